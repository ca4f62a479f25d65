"""CPU an idle `gatehouse serve --demo` uses, with its loops backing off against polling at
their own periods (GATEHOUSE_IDLE_POLL_MAX_SECONDS=0, the behaviour before issue 16.15) in the
same run.

Target (issue 16.15): an idle server sleeps until woken or due; at most 1 % of a core at idle
(it used about 3 %).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from _common import Server, bench_env, emit, log, temp_home

SETTLE = 12.0  # seconds for start-up work (demo data, first polls, back-off) to finish
WINDOW = 30.0
TARGET = 0.01


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def idle_share(idle_max: str) -> float:
    """The share of one core an idle demo server uses over WINDOW seconds."""
    with temp_home() as home:
        env = bench_env(home, idle_poll_max_seconds=idle_max)
        with Server(env, home, extra=("--demo",)) as server:
            time.sleep(SETTLE)
            before, start = cpu_ticks(server.pid), time.monotonic()
            time.sleep(WINDOW)
            used = (cpu_ticks(server.pid) - before) / os.sysconf("SC_CLK_TCK")
            return used / (time.monotonic() - start)


def main() -> None:
    """Measure the polling baseline and the default, one after the other."""
    polling = idle_share("0")
    log(f"polling at each loop's period: {polling:.2%} of a core")
    default = idle_share("5")
    log(f"default (idle back-off): {default:.2%} of a core")
    emit(
        {
            "bench": "idle_cpu",
            "core_share": round(default, 4),
            "baseline_polling_core_share": round(polling, 4),
            "ratio": round(default / polling, 3) if polling else None,
            "window_seconds": WINDOW,
            "target": TARGET,
            "met": default <= TARGET,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
