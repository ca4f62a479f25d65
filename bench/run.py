"""Run every benchmark in bench/ (not run.py, not _*.py) in name order; relay their JSON lines.

`python bench/run.py distribution opal` (or `make bench ONLY="distribution opal"`) runs only the
named ones.

Each script runs as a subprocess with this Python and must print one JSON object line on stdout.
Exits 1, naming the failed scripts on stderr, if any script fails or prints no such line.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SCRIPT_TIMEOUT = 900.0
STOP_TIMEOUT = 10.0


def scripts(only: list[str] | None = None) -> list[Path]:
    """The benchmark scripts, in name order (those named in `only`, when given)."""
    found = sorted(
        p for p in BENCH_DIR.glob("*.py") if p.name != "run.py" and not p.name.startswith("_")
    )
    if only:
        unknown = set(only) - {p.stem for p in found}
        if unknown:
            names = ", ".join(p.stem for p in found)
            raise SystemExit(f"bench: no benchmark named {', '.join(sorted(unknown))} ({names})")
        found = [p for p in found if p.stem in only]
    return found


def result_line(stdout: str) -> str | None:
    """The last non-empty stdout line if it is a JSON object, else None."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        parsed = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None
    return lines[-1].strip() if isinstance(parsed, dict) else None


def end_group(proc: subprocess.Popen[str]) -> None:
    """Stop a script and everything it started (its own process group): TERM, then KILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            continue


def run_one(script: Path) -> str | None:
    """Run one script (stderr passes through) and return its JSON line, or None on failure."""
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=BENCH_DIR.parent,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, _ = proc.communicate(timeout=SCRIPT_TIMEOUT)
    except subprocess.TimeoutExpired:
        end_group(proc)
        print(f"bench: {script.name} timed out after {SCRIPT_TIMEOUT}s", file=sys.stderr)
        return None
    except KeyboardInterrupt:
        end_group(proc)
        raise
    if proc.returncode != 0:
        print(f"bench: {script.name} exited with {proc.returncode}", file=sys.stderr)
        return None
    line = result_line(stdout)
    if line is None:
        print(f"bench: {script.name} printed no JSON line", file=sys.stderr)
    return line


def main(only: list[str]) -> int:
    """Run them (all, or those named); exit non-zero if any failed."""
    failed: list[str] = []
    for script in scripts(only):
        line = run_one(script)
        if line is None:
            failed.append(script.name)
        else:
            print(line, flush=True)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
