"""Counters of this process's decisions, per tenant: plain integers, cheap on the hot path."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(slots=True)
class Counts:
    """Cumulative counts of one tenant's decisions (or of all of them)."""

    total_evaluations: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    server_failures: int = 0
    fallbacks: int = 0
    policy_violations: int = 0
    response_ms: float = 0.0  # summed, for the average

    def add(self, other: Counts) -> None:
        """Add another's counts to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def minus(self, other: Counts) -> Counts:
        """The counts since `other` was copied."""
        return Counts(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def copy(self) -> Counts:
        """A snapshot."""
        return Counts(*(getattr(self, f.name) for f in fields(self)))

    def document(self) -> dict[str, Any]:
        """Reference 002's metrics object (average response time in milliseconds)."""
        avg = self.response_ms / self.total_evaluations if self.total_evaluations else 0.0
        return {
            "total_evaluations": self.total_evaluations,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "server_failures": self.server_failures,
            "avg_response_time": round(avg, 3),
            "policy_violations": self.policy_violations,
            "fallbacks": self.fallbacks,
        }


def violates(defined: bool, result: Any) -> bool:
    """A policy violation: a defined answer that denies (`false`, or an object whose `allow`
    or `allowed` is false)."""
    if not defined:
        return False
    if result is False:
        return True
    if type(result) is dict:
        return result.get("allow", result.get("allowed")) is False
    return False


class DecisionStats:
    """Every tenant's counts in this process."""

    def __init__(self) -> None:
        self.tenants: dict[str, Counts] = {}

    def of(self, tenant: str) -> Counts:
        """The tenant's counts (created on first use)."""
        found = self.tenants.get(tenant)
        if found is None:
            found = self.tenants[tenant] = Counts()
        return found

    def decided(
        self, tenant: str, ms: float, *, hit: bool | None, engine: str, violation: bool
    ) -> None:
        """Count one answered decision (`hit` None: the cache was not consulted)."""
        c = self.of(tenant)
        c.total_evaluations += 1
        c.response_ms += ms
        if hit is True:
            c.cache_hits += 1
        elif hit is False:
            c.cache_misses += 1
        if engine.startswith("fallback:"):
            c.fallbacks += 1
            c.server_failures += 1  # no remote endpoint answered
        if violation:
            c.policy_violations += 1

    def failed(self, tenant: str, ms: float) -> None:
        """Count one decision that could not be made (an evaluation or remote error)."""
        c = self.of(tenant)
        c.total_evaluations += 1
        c.server_failures += 1
        c.response_ms += ms

    def total(self) -> Counts:
        """Every tenant's counts added up."""
        all_ = Counts()
        for c in self.tenants.values():
            all_.add(c)
        return all_
