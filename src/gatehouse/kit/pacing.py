"""Idle back-off for polling loops: sleep longer while nothing turns up, back at once on work."""

from __future__ import annotations

# A loop backs off to at most this many times its own period (and never past the idle cap).
SPREAD = 10


class Pacer:
    """The wait before a loop's next poll: its period after a poll that found work, doubling
    after each one that found none, up to `cap` (a loop woken by its process's own writes
    polls at once whatever the wait)."""

    def __init__(self, period: float, idle_max: float) -> None:
        self.period = period
        self.cap = max(period, min(idle_max, period * SPREAD))
        self.current = period

    def after(self, found: bool) -> float:
        """How long to wait after a poll that did (or did not) find something to do."""
        if found:
            self.current = self.period
            return self.period
        wait, self.current = self.current, min(self.cap, self.current * 2)
        return wait

    def reset(self) -> None:
        """Poll at the loop's own period again (its process just wrote something)."""
        self.current = self.period
