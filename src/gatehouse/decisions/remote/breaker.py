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
    """An admitted call: whether it is a half-open trial or a last resort, of which opening."""

    trial: bool
    generation: int
    last_resort: bool = False


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
        self.last_resort = False  # an open breaker's one call admitted as a last resort

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

    def admit_last_resort(self) -> Slot | None:
        """Take an open breaker's one last-resort slot, for when no other endpoint answered
        (panic routing): one call at a time tries it despite the open circuit."""
        if self.current() is not BreakerState.open or self.last_resort:
            return None
        self.last_resort = True
        return Slot(False, self.generation, last_resort=True)

    def recovered(self) -> None:
        """A health check passed: an open breaker lets trial calls through now (half-open)."""
        if self.current() is BreakerState.open:
            self.state, self.trials = BreakerState.half_open, 0

    def release(self, slot: Slot) -> None:
        """Give back an admitted call's slot without an outcome (the caller gave up)."""
        if slot.last_resort and slot.generation == self.generation:
            self.last_resort = False
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
            self.last_resort = False
            return
        self.failures += 1
        if self.state is BreakerState.open:
            return  # already open (a last resort failed): its pause is not extended
        if self.state is BreakerState.half_open or self.failures >= self.spec.failure_threshold:
            self.state, self.opened_at, self.trials = BreakerState.open, self.clock(), 0
            self.last_resort = False
            self.generation += 1
