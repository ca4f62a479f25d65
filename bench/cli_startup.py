"""CPU seconds of CLI commands against `python -c pass` in the same run.

Target (issue 16): `gatehouse --help`, `tenant list` and `token create` at most 0.5 s of CPU each.
Each command runs several times; the median user+system CPU time of the child is reported, with
the interpreter's bare start-up as the baseline.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from _common import GATEHOUSE, PYTHON, bench_env, cli, emit, log, temp_home

RUNS = 7
TARGET = 0.5


def cpu_seconds(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """The median CPU time (user + system) of `args` over RUNS runs."""
    times = []
    for _ in range(RUNS):
        before = os.times()
        subprocess.run(args, env=env, cwd=cwd, capture_output=True, check=True, timeout=60)
        after = os.times()
        times.append(
            (after.children_user - before.children_user)
            + (after.children_system - before.children_system)
        )
    return statistics.median(times)


def main() -> None:
    """Prepare a home with a tenant, then time the commands."""
    with temp_home() as home:
        env = bench_env(home)
        cli(["db", "upgrade"], env, home)
        cli(["tenant", "create", "acme"], env, home)
        baseline = cpu_seconds([PYTHON, "-c", "pass"], env, home)
        commands = {
            "help": [GATEHOUSE, "--help"],
            "tenant_list": [GATEHOUSE, "tenant", "list"],
            "token_create": [
                GATEHOUSE,
                "token",
                "create",
                "--tenant",
                "acme",
                "--scope",
                "audit:read",
            ],
        }
        seconds = {}
        for name, args in commands.items():
            seconds[name] = cpu_seconds(args, env, home)
            log(f"{name}: {seconds[name]:.3f} s CPU (python -c pass: {baseline:.3f} s)")
    worst = max(seconds.values())
    emit(
        {
            "bench": "cli_startup",
            "cpu_seconds": {k: round(v, 3) for k, v in seconds.items()},
            "baseline_python_pass": round(baseline, 3),
            "worst": round(worst, 3),
            "unit": "s",
            "target": TARGET,
            "met": worst <= TARGET,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
