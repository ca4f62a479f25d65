"""The order in which a request tries a tenant's endpoints."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from gatehouse.decisions.remote.endpoint import Endpoint
from gatehouse.decisions.remote.spec import Balancing


class Balancer:
    """round_robin rotates the first choice; health_based prefers the fastest, steadiest one."""

    def __init__(self, mode: Balancing) -> None:
        self.mode = mode
        self.turn = itertools.count()

    def order(self, endpoints: Sequence[Endpoint]) -> list[Endpoint]:
        """Every endpoint in the order to try it: the usable ones, balanced, then those marked
        down (health checks or breaker), tried only when none of the first answered."""
        usable = [e for e in endpoints if e.usable()]
        down = [e for e in endpoints if not e.usable()]
        if self.mode == "health_based":
            return sorted(usable, key=score) + sorted(down, key=score)
        start = next(self.turn) % len(usable) if usable else 0
        return usable[start:] + usable[:start] + down


def score(endpoint: Endpoint) -> tuple[int, int, float]:
    """Lower is better: confirmed healthy first, then fewer recent failures, then latency."""
    confirmed = 0 if endpoint.health.healthy else 1
    recent = endpoint.breaker.failures + endpoint.health.consecutive_failures
    latency = endpoint.latency_ms if endpoint.latency_ms is not None else 0.0
    return confirmed, recent, latency
