"""A circuit breaker per endpoint: closed, open after N failures, half-open trials after a pause."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple

from gatehouse.decisions.remote.spec import BreakerSpec


class BreakerState(StrEnum):
    """Where a breaker stands."""

    closed = "closed"
    open = "open"
    half_open = "half_open"


class Slot(NamedTuple):
    """An admitted call: whether it is a half-open trial, and of which opening."""

    trial: bool
    generation: int


class CircuitBreaker:
    """Counts consecutive failures; every admitted call must be followed by `record`.

    All methods run on the event loop without awaiting, so admission and its bookkeeping are
    atomic with respect to other requests.
    """

    def __init__(self, spec: BreakerSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.clock = clock
        self.state = BreakerState.closed
        self.failures = 0
        self.opened_at = 0.0
        self.trials = 0  # half-open calls admitted and not yet recorded
        self.generation = 0  # counts openings, so a stale trial frees no slot of a newer one

    def current(self) -> BreakerState:
        """The state now: an open breaker whose recovery timeout passed is half-open."""
        recovered = self.clock() - self.opened_at >= self.spec.recovery_timeout
        if self.state is BreakerState.open and recovered:
            self.state, self.trials = BreakerState.half_open, 0
        return self.state

    def available(self) -> bool:
        """Whether a call would be admitted now (without taking a slot)."""
        state = self.current()
        if state is BreakerState.open:
            return False
        return state is BreakerState.closed or self.trials < self.spec.half_open_max_calls

    def admit(self) -> Slot | None:
        """Take a slot for a call, or None (open, or half-open with every trial slot taken)."""
        if not self.available():
            return None
        trial = self.state is BreakerState.half_open
        if trial:
            self.trials += 1
        return Slot(trial, self.generation)

    def release(self, slot: Slot) -> None:
        """Give back an admitted call's slot without an outcome (the caller gave up)."""
        if (
            slot.trial
            and slot.generation == self.generation
            and self.state is BreakerState.half_open
        ):
            self.trials = max(0, self.trials - 1)

    def record(self, slot: Slot, ok: bool) -> None:
        """The outcome of an admitted call."""
        self.release(slot)
        if ok:
            self.state, self.failures, self.trials = BreakerState.closed, 0, 0
            return
        self.failures += 1
        if self.state is BreakerState.half_open or self.failures >= self.spec.failure_threshold:
            self.state, self.opened_at, self.trials = BreakerState.open, self.clock(), 0
            self.generation += 1
