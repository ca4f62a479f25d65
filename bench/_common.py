"""Helpers shared by the benchmarks: temporary home, CLI calls, one server, the load generator."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")
LOOPBACK = "127.0.0.1"
CLI_TIMEOUT = 60.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class BenchError(Exception):
    """The benchmark could not run as set up."""


def log(message: str) -> None:
    """Progress on stderr (stdout carries only the one JSON line)."""
    print(f"[{Path(sys.argv[0]).stem}] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """Print the benchmark's one JSON line."""
    print(json.dumps(result), flush=True)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def temp_home() -> Iterator[Path]:
    """A fresh GATEHOUSE_HOME directory, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment without any inherited GATEHOUSE_* setting, plus home and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env["GATEHOUSE_HOME"] = str(home)
    for name, value in settings.items():
        env[f"GATEHOUSE_{name.upper()}"] = value
    return env


def cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run `gatehouse ARGS` and return its stdout, raising BenchError if it fails."""
    try:
        done = subprocess.run(
            [GATEHOUSE, *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"gatehouse {' '.join(args)}: no answer in {CLI_TIMEOUT}s") from None
    if done.returncode != 0:
        raise BenchError(f"gatehouse {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def enterprise_tenant(env: dict[str, str], home: Path, tenant: str) -> Callable[..., str]:
    """Migrate, create `tenant` on the enterprise tier; a function making its tokens."""
    cli(["db", "upgrade"], env, home)
    cli(["tenant", "create", tenant, "--tier", "enterprise"], env, home)

    def token(*scopes: str) -> str:
        args = ["token", "create", "--tenant", tenant, "--json"]
        for scope in scopes:
            args += ["--scope", scope]
        return str(json.loads(cli(args, env, home))["token"])

    return token


def cpu_sets() -> tuple[set[int] | None, set[int] | None]:
    """Separate CPUs for the server and the load generator, or (None, None) if unavailable."""
    if os.environ.get("BENCH_NO_PIN") or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, {cpus[1]}


@contextlib.contextmanager
def pinned(cpus: set[int] | None) -> Iterator[None]:
    """Run the body (and so any child started in it) on `cpus`, then restore the affinity."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """One GET on the loopback server: status and body."""
    url = f"http://{LOOPBACK}:{port}{path}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return int(resp.status), bytes(resp.read())


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a text file (for error messages)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Server:
    """One `gatehouse serve` process on a free loopback port."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path,
        cpus: set[int] | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.env = env
        self.cwd = cwd
        self.cpus = cpus
        self.extra = list(extra)
        self.port = free_port()
        self.log_path = cwd / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self.proc is None:
            raise BenchError("server not started")
        return self.proc.pid

    def start(self) -> None:
        """Start the server and wait until /health answers."""
        self._log = self.log_path.open("wb")
        args = [GATEHOUSE, "serve", "--host", LOOPBACK, "--port", str(self.port), *self.extra]
        with pinned(self.cpus):
            self.proc = subprocess.Popen(
                args,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        self.wait_healthy()

    def wait_healthy(self) -> None:
        """Poll /health until it answers 200, the process dies, or START_TIMEOUT passes."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise BenchError(
                    f"server exited with {self.proc.returncode}:\n{tail(self.log_path)}"
                )
            with contextlib.suppress(OSError):
                if get(self.port, "/health", timeout=1.0)[0] == 200:
                    return
            time.sleep(0.1)
        raise BenchError(f"server not healthy after {START_TIMEOUT}s:\n{tail(self.log_path)}")

    def stop(self) -> None:
        """Terminate the server, killing it if it does not stop within STOP_TIMEOUT."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        """Start on entry."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop on exit, whatever happened."""
        self.stop()


def load(
    port: int,
    path: str,
    *,
    token: str = "",
    requests: int = 20_000,
    connections: int = 16,
    warmup: int = 2_000,
    time_cap: float = 60.0,
    cpus: set[int] | None = None,
    method: str = "GET",
    body: str = "",
    expect: int = 200,
    cycle: int = 0,
    values: Path | None = None,
    headers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run bench/_load.py against the server in its own process and return its summary."""
    args = [
        PYTHON,
        str(BENCH_DIR / "_load.py"),
        "--port",
        str(port),
        "--path",
        path,
        "--requests",
        str(requests),
        "--connections",
        str(connections),
        "--warmup",
        str(warmup),
        "--time-cap",
        str(time_cap),
        "--method",
        method,
        "--body",
        body,
        "--expect",
        str(expect),
        "--cycle",
        str(cycle),
        "--values",
        str(values or ""),
        *(arg for header in headers for arg in ("--header", header)),
    ]
    env = {**os.environ, "BENCH_TOKEN": token}
    limit = 2 * time_cap + 30
    with pinned(cpus):
        proc = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"load generator on {path} did not finish in {limit}s") from None
    if proc.returncode != 0:
        raise BenchError(f"load generator on {path} failed ({proc.returncode}):\n{err.strip()}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


async def admin(sql: str) -> None:
    """Run one statement on the local PostgreSQL server's admin database."""
    import asyncpg  # only the benchmarks that use PostgreSQL need it

    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main(bench: str, run: Callable[[], dict[str, Any]]) -> int:
    """A benchmark's entry point: one JSON line on stdout, or why it failed on stderr."""
    try:
        emit(run())
    except BenchError as exc:
        print(f"{bench}: {exc}", file=sys.stderr)
        return 1
    return 0
