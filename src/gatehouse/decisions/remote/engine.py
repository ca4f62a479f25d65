"""A tenant's remote OPAs: balanced, health-checked, guarded by breakers, failing over."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import quote

import orjson
import structlog

from gatehouse.config import IPNetwork
from gatehouse.decisions.remote.balancer import Balancer
from gatehouse.decisions.remote.endpoint import Answer, Endpoint, Unanswered
from gatehouse.decisions.remote.health import watch
from gatehouse.decisions.remote.spec import RemoteSpec, segments
from gatehouse.decisions.types import EvaluationError

log = structlog.get_logger("gatehouse.decisions")


class NoEndpointAnswered(Exception):
    """Every endpoint that admitted a call was tried and none answered."""


class RemoteEngine:
    """Asks a tenant's OPA servers, one after another, until one answers."""

    def __init__(self, spec: RemoteSpec, allow: list[IPNetwork]) -> None:
        self.spec = spec
        self.endpoints = [Endpoint(e, spec, allow) for e in spec.endpoints]
        self.balancer = Balancer(spec.load_balancing)
        self.package = segments(spec.policy_package)
        self.watchers: list[asyncio.Task[None]] = []
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def start(self) -> None:
        """Start the background health checks."""
        if self.spec.health_check.enabled and not self.watchers:
            self.watchers = [
                asyncio.create_task(watch(e, self.spec.health_check), name=f"health {e.url}")
                for e in self.endpoints
            ]

    def remote_path(self, path: str) -> str:
        """The data path on the remote OPA: the tenant's package, then the asked path.

        Each segment is percent-encoded, so no path can leave `/v1/data` on the remote OPA.
        """
        return "/".join(quote(p, safe="") for p in [*self.package, *segments(path)])

    async def ask(
        self, path: str, input: Any, params: dict[str, str] | None = None
    ) -> tuple[Answer, Endpoint]:
        """The first answer among the usable endpoints, in balancing order, then among those
        marked down (panic routing: an open breaker admits one such call at a time) before the
        caller falls back (`params`: OPA's query parameters to pass on, such as `explain`)."""
        body = orjson.dumps({"input": input})
        remote = self.remote_path(path)
        self.in_flight += 1
        self.idle.clear()
        try:
            for endpoint in self.balancer.order(self.endpoints):
                slot = endpoint.breaker.admit() or endpoint.breaker.admit_last_resort()
                if slot is None:  # half-open trials or the last-resort call are under way
                    continue
                try:
                    answer = await endpoint.query(remote, body, params)
                except Unanswered as exc:
                    endpoint.breaker.record(slot, ok=False)
                    log.debug("remote OPA did not answer", endpoint=endpoint.url, error=str(exc))
                    continue
                except EvaluationError:
                    endpoint.breaker.record(slot, ok=True)  # it answered; the query was refused
                    raise
                except BaseException:
                    endpoint.breaker.release(slot)  # cancelled: no outcome to count
                    raise
                endpoint.breaker.record(slot, ok=True)
                return answer, endpoint
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.idle.set()
        raise NoEndpointAnswered(f"none of {len(self.endpoints)} OPA endpoints answered")

    async def close(self, grace: float = 0.0) -> None:
        """Stop the health checks; close the clients once requests in flight are done."""
        for task in self.watchers:
            task.cancel()
        await asyncio.gather(*self.watchers, return_exceptions=True)
        self.watchers = []
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.idle.wait(), grace)
        await asyncio.gather(*(e.close() for e in self.endpoints), return_exceptions=True)
