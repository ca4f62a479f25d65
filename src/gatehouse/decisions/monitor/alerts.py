"""Alerts: each tenant's counts over a sliding window against its thresholds.

Crossing a threshold writes `alert.raised` to the outbox (so webhooks can deliver it); coming
back under it writes `alert.cleared`. An alert stays raised, without another event, until then
(its `value` follows the latest window, its `since` stays).
A window without the traffic a threshold needs (no decisions, no cacheable ones) does not cross.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from gatehouse.db.engine import Database
from gatehouse.decisions.cache.options import TenantOptions
from gatehouse.decisions.monitor.stats import Counts, DecisionStats
from gatehouse.decisions.schemas import AlertThresholds
from gatehouse.events.service import emit

log = structlog.get_logger("gatehouse.decisions")


def measured(d: Counts, seconds: float) -> dict[str, float | None]:
    """Each threshold's value over a window's counts (None: not enough traffic to tell)."""
    hits = d.cache_hits + d.cache_misses
    total = d.total_evaluations
    return {
        "failure_rate": d.server_failures / total if total else None,
        "response_time": d.response_ms / total if total else None,
        "cache_hit_rate": d.cache_hits / hits if hits else None,
        "policy_violations": d.policy_violations * 3600 / seconds if seconds > 0 else None,
    }


def crossed(name: str, value: float | None, threshold: float) -> bool:
    """Whether a value is on the wrong side (the hit rate alerts below, the others above)."""
    if value is None:
        return False
    return value < threshold if name == "cache_hit_rate" else value > threshold


class Alerts:
    """Evaluates every tenant's thresholds over the window, and remembers what is raised."""

    def __init__(
        self,
        db: Database,
        stats: DecisionStats,
        options: TenantOptions,
        *,
        window: float,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.stats, self.options = db, stats, options
        self.window, self.interval, self.clock = window, interval, clock
        self.history: dict[str, deque[tuple[float, Counts]]] = {}
        self.raised: dict[str, dict[str, dict[str, Any]]] = {}
        self.last: float | None = None  # when the previous tick ran

    def state(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The raised alerts of every tenant."""
        return self.raised

    async def tick(self) -> None:
        """Take a snapshot of every tenant's counts and evaluate its thresholds."""
        now = self.clock()
        for tenant, counts in list(self.stats.tenants.items()):
            history = self.history.get(tenant)
            if history is None:
                # A tenant first seen now: its counts were made since the previous tick.
                history = self.history[tenant] = deque()
                if self.last is not None:
                    history.append((self.last, Counts()))
            history.append((now, counts.copy()))
            while len(history) > 2 and history[1][0] <= now - self.window:
                history.popleft()
            since, first = history[0]
            options, _ = await self.options.of(tenant)
            values = measured(history[-1][1].minus(first), now - since)
            await self._judge(tenant, options.alerts, values)
        self.last = now

    async def _judge(
        self, tenant: str, thresholds: AlertThresholds, values: dict[str, float | None]
    ) -> None:
        raised = dict(self.raised.get(tenant, {}))
        events: list[tuple[str, str, dict[str, Any]]] = []
        for name, threshold in thresholds.model_dump().items():
            value = values[name]
            now_crossed = threshold is not None and crossed(name, value, threshold)
            payload = {"alert": name, "threshold": threshold, "value": value}
            payload["window_seconds"] = self.window
            if now_crossed and name not in raised:
                raised[name] = {**payload, "since": datetime.now(UTC).isoformat()}
                events.append(("alert.raised", name, payload))
            elif now_crossed:  # still raised: the latest value, no new event
                raised[name] = {**raised[name], "threshold": threshold, "value": value}
            elif name in raised:
                del raised[name]
                events.append(("alert.cleared", name, payload))
        if events:
            async with self.db.transaction() as session:
                for type_, name, payload in events:
                    emit(session, tenant, type_, "alert", name, payload)
        self.raised[tenant] = raised  # only once the events are committed
        if events:
            log.info("alerts changed", tenant=tenant, events=[e[0] + ":" + e[1] for e in events])

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("could not evaluate alerts")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
