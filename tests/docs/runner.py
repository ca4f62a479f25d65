"""Run a Markdown page's shell commands against a live server and compare output shapes."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.cli.test_cli import free_port

BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(console|sh|bash)\s*$")
HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)'?\"?")
# Commands the pages show that a test does not run, and why.
SKIPPED = (
    "make test",  # the whole suite: what `make test` does is CI's job
    "git clone",  # the test already runs inside a clone
    ". .venv/bin/activate",  # the test puts the venv's bin first on PATH instead
)
KEY = re.compile(r'"([A-Za-z_$][\w:.$-]*)"\s*:')
PAIR = re.compile(r'"([A-Za-z_$][\w:.$-]*)"\s*:\s*("(?:[^"\\]|\\.)*"|true|false|null)')
TOKEN = re.compile(r"gth_\w+")
ID = re.compile(r"\b[0-9a-f][0-9a-f-]*\b")
BOX = re.compile(r"([━─═┃│┏┓┗┛┡┩┳┻╇┣┫])\1+")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Step:
    """One command of a page and the output the page shows for it (None: none shown)."""

    command: str
    expected: list[str] | None
    where: str


def _closed(command: str) -> bool:
    """Whether every quote the command opens is closed."""
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True


def _logical(lines: list[str], i: int, strip: str) -> tuple[str, int]:
    """The command starting at line i (continuations and heredocs joined), and the next index."""
    first = lines[i].removeprefix(strip)
    out = [first]
    i += 1
    while (out[-1].endswith("\\") or not _closed("\n".join(out))) and i < len(lines):
        out.append(lines[i])
        i += 1
    heredoc = HEREDOC.search(out[0])
    if heredoc:
        while i < len(lines):
            out.append(lines[i])
            i += 1
            if out[-1].strip() == heredoc.group(1):
                break
    return "\n".join(out), i


def steps(page: Path) -> list[Step]:
    """Every command of the page's ```console, ```sh and ```bash blocks, in order."""
    text = page.read_text().splitlines()
    found: list[Step] = []
    i = 0
    while i < len(text):
        fence = FENCE.match(text[i])
        i += 1
        if not fence:
            continue
        end = next(j for j in range(i, len(text)) if text[j].startswith("```"))
        block, start = text[i:end], i
        i = end + 1
        j = 0
        while j < len(block):
            line = block[j]
            where = f"{page.name}:{start + j + 1}"
            if fence.group(1) == "console":
                if not line.startswith("$ "):
                    j += 1
                    continue
                command, j = _logical(block, j, "$ ")
                expected: list[str] = []
                while j < len(block) and not block[j].startswith("$ "):
                    expected.append(block[j])
                    j += 1
                found.append(Step(command, expected, where))
            else:
                if not line.strip() or line.lstrip().startswith("#"):
                    j += 1
                    continue
                command, j = _logical(block, j, "")
                found.append(Step(command, None, where))
    return found


def normal(text: str) -> str:
    """Text with what differs between runs (tokens, ids, numbers, widths) made equal."""
    text = ANSI.sub("", text)
    text = TOKEN.sub("gth_X", text)
    text = ID.sub(lambda m: "0" if re.search(r"\d", m.group()) else m.group(), text)
    text = re.sub(r"\d+", "0", text)
    text = BOX.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def keys(value: Any) -> set[str]:
    """Every object key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def pairs(value: Any) -> set[tuple[str, Any]]:
    """Every (key, value) of a string, boolean or null anywhere in a JSON value."""
    if isinstance(value, dict):
        here = {(k, v) for k, v in value.items() if v is None or isinstance(v, str | bool)}
        return here | {p for v in value.values() for p in pairs(v)}
    if isinstance(value, list):
        return {p for v in value for p in pairs(v)}
    return set()


def literals(shown: str) -> set[tuple[str, Any]]:
    """The page's (key, value) pairs that do not vary between runs (no digits, not cut)."""
    found = set()
    for key, raw in PAIR.findall(shown):
        if re.search(r"\d|\.\.\.|gth_", raw):
            continue
        found.add((key, json.loads(raw)))
    return found


def compare(step: Step, actual: str) -> None:
    """The output has the shape the page shows: the same JSON keys, or the same lines."""
    shown = [line for line in step.expected or [] if line.strip()]
    if not shown:
        return
    if shown[0].lstrip().startswith(("{", "[")) and actual.lstrip().startswith(("{", "[")):
        try:
            got = keys(json.loads(actual))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{step.where}: not JSON ({exc}):\n{actual}") from exc
        missing = set(KEY.findall("\n".join(shown))) - got
        assert not missing, f"{step.where}: keys {sorted(missing)} missing from\n{actual}"
        differ = literals("\n".join(shown)) - pairs(json.loads(actual))
        assert not differ, f"{step.where}: values {sorted(differ)} not in\n{actual}"
        return
    have = normal(actual)
    for line in shown:
        for fragment in line.split("..."):
            want = normal(fragment)
            assert want in have, f"{step.where}: {fragment.strip()!r} not in the output:\n{actual}"


@dataclass
class Session:
    """A fresh Gatehouse home, its server, and the shell variables the page exported."""

    home: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    banner: str = ""
    last: str = ""
    exports: dict[str, str] = field(default_factory=dict)
    shown_runs: int = 0  # `make run`s with output shown on the current page

    @property
    def url(self) -> str:
        """The server's address."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *args: str) -> str:
        """Start `gatehouse serve --port P <args>` here; its banner once it listens."""
        self.stop()
        log = self.home / "serve.log"
        with log.open("wb") as out:
            self.server = subprocess.Popen(
                [str(BIN / "gatehouse"), "serve", "--port", str(self.port), *args],
                cwd=self.home,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.server.poll() is None, log.read_text()
            text = log.read_text()
            if "Uvicorn running" in text:
                try:
                    if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                        self.banner = text
                        return text
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{log.read_text()}")

    def stop(self) -> None:
        """Stop the server, if it runs."""
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=30)
        self.server = None

    def export(self, name: str, value: str, comment: str) -> None:
        """`export NAME=value`: a placeholder (`gth_...`, or a value the comment says to take
        from above) takes the last output's."""
        if name == "GH":
            value = self.url
        elif "..." in value or comment:
            value = self._from_last()
        self.exports[name] = value

    def _from_last(self) -> str:
        try:
            doc = json.loads(self.last)
        except json.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            for name in ("token", "id"):
                if isinstance(doc.get(name), str):
                    return str(doc[name])
        tokens = TOKEN.findall(self.last)
        assert tokens, f"nothing to export in the last output:\n{self.last}"
        return tokens[-1]

    def page(self, page: Path) -> None:
        """Run every command of a page in order, on this session's server and variables."""
        self.shown_runs = 0
        for step in steps(page):
            self.run(step)

    def run(self, step: Step) -> None:
        """Run one step and compare its output with what the page shows."""
        began = time.monotonic()
        try:
            self._run(step)
        finally:
            if os.environ.get("DOCS_TIMING"):
                print(f"{time.monotonic() - began:6.2f}s {step.where}", file=sys.stderr)

    def _run(self, step: Step) -> None:
        command = step.command
        if command.startswith(SKIPPED):
            return
        exported = re.fullmatch(r"export (\w+)=(\S+)(\s+#.*)?", command)
        if exported:
            self.export(exported.group(1), exported.group(2), exported.group(3) or "")
            return
        if command.split("#")[0].strip() == "make run":
            # The server the test started stands for `make run`; a page's second `make run`
            # (after "stop it") is a restart. Its install lines are not compared: .venv exists.
            if self.server is None or (step.expected is not None and self.shown_runs):
                self.start("--demo")
            self.shown_runs += step.expected is not None
            self.last = self.banner
            shown = step.expected or []
            ready = [i for i, line in enumerate(shown) if line.startswith("database ready")]
            step = Step(step.command, shown[ready[0] :] if ready else shown, step.where)
        elif command.startswith("gatehouse serve"):
            self.last = self.start(*shlex.split(command)[2:])
        else:
            command = command.replace(".venv/bin/", f"{BIN}/").replace(
                "http://127.0.0.1:8000", self.url
            )
            env = {**self.env, **self.exports, "PATH": f"{BIN}:{self.env['PATH']}"}
            done = subprocess.run(
                ["bash", "-eo", "pipefail", "-c", command],
                cwd=self.home,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            out = done.stdout + done.stderr
            assert done.returncode == 0, f"{step.where}: `{command}` failed:\n{out}"
            self.last = done.stdout.strip() or done.stderr.strip()
            compare(step, out)
            return
        compare(step, self.last)
