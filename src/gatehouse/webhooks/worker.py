"""The webhook worker: dispatches outbox events, then sends due deliveries with retries.

A round (`tick`) claims due deliveries in batches, keeps `webhooks_batch` of them in flight on
lanes of their own, and records outcomes in batches as they come, so claiming, sending and
recording overlap instead of waiting for the slowest message of a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.events.service import emit
from gatehouse.kit.ids import new_id
from gatehouse.kit.pacing import Pacer
from gatehouse.secrets.keyring import KeyRing
from gatehouse.webhooks import queue, service
from gatehouse.webhooks.dispatch import Dispatcher, envelope
from gatehouse.webhooks.models import WebhookDelivery
from gatehouse.webhooks.queue import Claimed
from gatehouse.webhooks.sender import Lanes, Outcome, post
from gatehouse.webhooks.targets import Target, Targets

log = structlog.get_logger("gatehouse.webhooks")
# A claimed message may wait for one round of sends before its own (endpoint timeouts are 60 s
# at most), so its lease outlasts two timeouts.
LEASE = timedelta(seconds=180)
SYSTEM = "system:webhooks"
PURGE_EVERY = timedelta(hours=1)
Clock = Callable[[], datetime]
Job = tuple[Claimed, "Target | None"]


@dataclass(slots=True)
class Step:
    """One claimed delivery after its turn: the values to finish it with, and the attempt."""

    row: Claimed
    values: dict[str, Any]
    target: Target | None = None
    outcome: Outcome | None = None
    attempt: dict[str, Any] | None = None


def utc_now() -> datetime:
    """The wall clock, timezone-aware."""
    return datetime.now(UTC)


class WebhookWorker:
    """Keeps every endpoint told about its tenant's events, durably and in the background."""

    def __init__(
        self, db: Database, settings: Settings, ring: Callable[[], KeyRing], clock: Clock = utc_now
    ) -> None:
        self.db, self.settings, self.ring, self.clock = db, settings, ring, clock
        self.dispatcher = Dispatcher(db, settings.webhooks_gap_seconds)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.rng = random.Random()  # noqa: S311 (retry jitter, not a secret)
        self.wake = asyncio.Event()
        self.stopping = False  # asked to stop: no more dispatching or claiming
        self.window: dict[str, tuple[int, int]] = {}  # endpoint -> (second, sends in it)
        self.lanes = Lanes(settings.outbound_allow)
        self.targets = Targets(ring)
        self.purged_at: datetime | None = None
        self.dispatched_at = 0.0  # monotonic time of the last dispatch
        self.attempted = 0  # attempts made by the last round
        self.soonest: datetime | None = None  # when the earliest waiting delivery falls due
        self.disabled: set[str] = set()  # endpoints this round turned off

    def written(self, tenant: str) -> None:
        """A write committed: its events may be waiting."""
        self.wake.set()

    async def close(self) -> None:
        """Close the HTTP transports."""
        await self.lanes.close()

    async def dispatch(self) -> None:
        """Turn every new outbox event into deliveries."""
        self.dispatched_at = time.monotonic()
        while not self.stopping:
            if await self.dispatcher.run_once(self.clock()) < self.dispatcher.batch:
                return

    async def tick(self) -> int:
        """Dispatch new events, then send everything due; how many were delivered."""
        await self.dispatch()
        await self.purge_if_due()
        self.attempted = 0
        if not await queue.due(self.db, self.clock()):
            self.soonest = await queue.soonest(self.db, self.clock())
            return 0
        self.soonest = None
        return await self.drain()

    async def drain(self) -> int:
        """Send what is due until nothing is left, `webhooks_batch` at a time; how many were
        delivered. New events are dispatched along the way (when written, or every poll)."""
        width = self.settings.webhooks_batch
        todo: asyncio.Queue[Job | None] = asyncio.Queue()
        done: list[Step] = []
        ready, over, hungry = asyncio.Event(), asyncio.Event(), asyncio.Event()
        lanes: list[asyncio.Task[None]] = []
        self.disabled.clear()
        async with asyncio.TaskGroup() as group:
            recorder = group.create_task(self._recorder(done, ready, over))
            # At most `width` wait (claimed, so leased) while `width` are in flight.
            while not self.stopping and (jobs := await self._claim(width - todo.qsize())):
                for _ in range(min(len(jobs), width - len(lanes))):
                    lane = self._lane(self.lanes.transport(len(lanes)), todo, done, ready, hungry)
                    lanes.append(group.create_task(lane))
                for job in jobs:
                    todo.put_nowait(job)
                if self.wake.is_set() or self._poll_due():  # a long round still follows the outbox
                    self.wake.clear()
                    await self.dispatch()
                    await self.purge_if_due()
                hungry.clear()
                if todo.qsize() > width // 2:  # claim again when half of them have gone out
                    await hungry.wait()
            for _ in lanes:
                todo.put_nowait(None)
            await asyncio.gather(*lanes)
            over.set()
            ready.set()
        return recorder.result()

    def _poll_due(self) -> bool:
        return time.monotonic() - self.dispatched_at >= self.settings.webhooks_poll_seconds

    async def _claim(self, limit: int) -> list[Job]:
        """A batch of due deliveries, each with its endpoint read in the same transaction."""
        now = self.clock()
        async with self.db.transaction() as session:
            rows = await queue.claim(session, self.owner, now, LEASE, limit)
            if not rows:
                return []
            targets = await self.targets.load(session, {r.endpoint_id for r in rows}, now)
        return [(row, targets.get(row.endpoint_id)) for row in rows]

    async def _lane(
        self,
        transport: httpx.AsyncBaseTransport,
        todo: asyncio.Queue[Job | None],
        done: list[Step],
        ready: asyncio.Event,
        hungry: asyncio.Event,
    ) -> None:
        """Send claimed deliveries one after another until told to stop."""
        low = self.settings.webhooks_batch // 2
        while (job := await todo.get()) is not None:
            if todo.qsize() <= low:
                hungry.set()
            done.append(await self.deliver(*job, transport))
            ready.set()

    async def _recorder(self, done: list[Step], ready: asyncio.Event, over: asyncio.Event) -> int:
        """Record finished steps in batches as they come; how many were delivered."""
        delivered = 0
        while True:
            await ready.wait()
            ready.clear()
            if done:
                steps = done[:]
                done.clear()
                await self.settle(steps)
                self.attempted += sum(1 for s in steps if s.attempt is not None)
                delivered += sum(1 for s in steps if s.outcome is not None and s.outcome.succeeded)
            if over.is_set() and not done:
                return delivered

    async def purge_if_due(self) -> int:
        """Once an hour, drop what is older than the retention period."""
        now = self.clock()
        if self.purged_at is not None and now - self.purged_at < PURGE_EVERY:
            return 0
        self.purged_at = now
        keep = timedelta(days=self.settings.webhooks_retention_days)
        return await queue.purge(self.db, now - keep)

    def sendable(self, target: Target) -> bool:
        """Whether the endpoint is on (as read at the claim, and not turned off since here)."""
        return target.endpoint.enabled and target.endpoint.id not in self.disabled

    def _over_rate(self, target: Target, now: datetime) -> bool:
        limit = target.endpoint.rate_limit
        if limit is None:
            return False
        second = int(now.timestamp())
        start, count = self.window.get(target.endpoint.id, (second, 0))
        count = count + 1 if start == second else 1
        self.window[target.endpoint.id] = (second, count)
        return count > limit

    async def deliver(
        self, row: Claimed, target: Target | None, transport: httpx.AsyncBaseTransport
    ) -> Step:
        """Send one claimed delivery (unless it cannot or must wait); what to record."""
        now = self.clock()
        if target is None or not self.sendable(target):
            reason = "endpoint deleted" if target is None else "endpoint disabled"
            return Step(row, {"status": "failed", "last_error": reason, "finished_at": now})
        if self._over_rate(target, now):  # not an attempt: put it back for the next second
            due = now.replace(microsecond=0) + timedelta(seconds=1)
            return Step(row, {"status": "pending", "due_at": due, "attempts": row.attempts - 1})
        body = orjson.dumps(row.body)
        # Receivers compare the timestamp with their own clock: wall time, never the test clock.
        headers, shown = target.sign(f"msg_{row.id}", int(time.time()), body)
        endpoint = target.endpoint
        limit = self.settings.webhooks_max_payload_bytes
        oversized = len(body) > limit
        if oversized:
            outcome = Outcome(None, "", 0.0, f"body of {len(body)} bytes is over {limit}")
        else:
            outcome = await post(
                transport, target.url, body, headers, endpoint.timeout_seconds, now
            )
        values = self.next_state(row, target, outcome, oversized)
        attempt = {
            "id": new_id(),
            "tenant_id": row.tenant_id,
            "endpoint_id": row.endpoint_id,
            "delivery_id": row.id,
            "event_type": row.event_type,
            "series": row.series,
            "attempt": row.attempts,
            "succeeded": outcome.succeeded,
            "request_headers": shown,
            "response_status": outcome.status,
            "response_body": outcome.body,
            "latency_ms": round(outcome.latency_ms, 3),
            "error": outcome.error,
            "created_at": self.clock(),
        }
        return Step(row, values, target, outcome, attempt)

    def next_state(
        self, row: Claimed, target: Target, outcome: Outcome, oversized: bool
    ) -> dict[str, Any]:
        """What an attempt leaves the delivery as: delivered, due again later, or failed."""
        now = self.clock()
        values: dict[str, Any] = {"last_status": outcome.status, "last_error": outcome.error}
        if outcome.succeeded:
            values.update(status="delivered", finished_at=now, last_error=None)
            return values
        wait = None
        endpoint = target.endpoint
        if not (outcome.status == 410 or oversized):
            wait = queue.next_wait(
                endpoint.retry_policy,
                row.attempts,
                endpoint.max_retries,
                self.settings.webhooks_retry_schedule,
                self.settings.webhooks_linear_seconds,
                self.rng,
            )
        if wait is not None and outcome.retry_after is not None:
            asked = min(outcome.retry_after, self.settings.webhooks_retry_after_max_seconds)
            wait = max(wait, asked)
        if wait is None:
            values.update(status="failed", finished_at=now)
        else:
            values.update(status="pending", due_at=now + timedelta(seconds=wait))
        return values

    async def settle(self, steps: list[Step]) -> None:
        """Record a batch of attempts and their consequences in one transaction."""
        async with self.db.transaction() as session:
            mine = await queue.held(session, self.owner, [s.row.id for s in steps])
            steps = [s for s in steps if s.row.id in mine]  # others: our lease ran out
            await queue.finish(session, self.owner, [(s.row.id, s.values) for s in steps])
            await queue.record(session, [s.attempt for s in steps if s.attempt is not None])
            failing: dict[str, Target] = {}
            for step in steps:
                if step.target is None or step.outcome is None:
                    continue
                if step.outcome.status == 410 and self.sendable(step.target):
                    await self.disable(session, step.target, "the endpoint answered 410 Gone")
                elif not step.outcome.succeeded:
                    failing[step.target.endpoint.id] = step.target
            for target in failing.values():  # once per endpoint and batch
                if self.sendable(target):
                    await self.give_up_if_failing(session, target, self.clock())

    async def give_up_if_failing(
        self, session: AsyncSession, target: Target, now: datetime
    ) -> None:
        """Disable an endpoint whose attempts have all failed for the configured time."""
        endpoint = target.endpoint
        since = await queue.failing_since(session, endpoint.tenant_id, endpoint.id)
        hours = self.settings.webhooks_disable_after_hours
        if since is not None:  # a change to the endpoint (re-enabling it) starts a new count
            since = max(since, endpoint.updated_at)
        if since is not None and now - since >= timedelta(hours=hours):
            reason = f"every attempt since {since.isoformat()} failed ({hours:g} h)"
            await self.disable(session, target, reason)

    async def disable(self, session: AsyncSession, target: Target, reason: str) -> None:
        """Turn an endpoint off, with its `endpoint.disabled` event and an audit entry; what
        this worker still holds for it fails unsent."""
        self.disabled.add(target.endpoint.id)
        tenant = target.endpoint.tenant_id
        row = await service.find(session, tenant, target.endpoint.id)
        row.enabled, row.disabled_reason = False, reason
        data = {"endpoint_id": row.id, "url": row.url, "reason": reason}
        emit(session, tenant, "endpoint.disabled", "webhook_endpoint", row.id, data)
        await audit.record(
            session,
            Actor(tenant, SYSTEM),
            "webhook.disable",
            "webhook_endpoint",
            row.id,
            after=data,
        )
        log.warning("webhook endpoint disabled", tenant=tenant, endpoint=row.id, reason=reason)

    async def send_test(
        self, actor: Actor, endpoint_id: str
    ) -> tuple[WebhookDelivery, Outcome | None]:
        """Send a `webhook.test` message now, outside the queue, and say how it went."""
        now = self.clock()
        tenant = actor.tenant_id
        data = {"message": "A test message from Gatehouse."}
        async with self.db.transaction() as session:
            await service.find(session, tenant, endpoint_id)
            await audit.record(session, actor, "webhook.test", "webhook_endpoint", endpoint_id)
            row = WebhookDelivery(
                tenant_id=tenant,
                endpoint_id=endpoint_id,
                event_type="webhook.test",
                body=envelope("webhook.test", data, now),
                status="sending",
                attempts=1,
                due_at=now,
                lease_owner=self.owner,
                lease_expires_at=now + LEASE,
            )
            session.add(row)
            await session.flush()
            session.expunge(row)
            targets = await self.targets.load(session, {endpoint_id}, now)
        claimed = Claimed(row.id, tenant, endpoint_id, row.event_type, row.body, 1, now, 1)
        step = await self.deliver(claimed, targets.get(endpoint_id), self.lanes.spare)
        await self.settle([step])
        return row, step.outcome

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until stopped; woken early by this process's writes, and at once again
        after a round that sent something (ordered endpoints' next messages are due)."""
        pacer = Pacer(self.settings.webhooks_poll_seconds, self.settings.idle_poll_max_seconds)
        idle = pacer.period
        try:
            while not stop.is_set():
                if not self.attempted:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), self._until_due(idle))
                woken = self.wake.is_set()
                self.wake.clear()
                if stop.is_set():
                    break
                try:
                    await self._round(stop)
                except Exception:
                    self.attempted = 0
                    log.exception("webhook delivery failed")
                idle = pacer.after(woken or self.attempted > 0)
        finally:
            await self.close()

    def _until_due(self, idle: float) -> float:
        """The idle wait, cut short when a waiting delivery falls due sooner."""
        if self.soonest is None:
            return idle
        return min(idle, max(0.0, (self.soonest - self.clock()).total_seconds()))

    async def _round(self, stop: asyncio.Event) -> None:
        """One tick; when the process is asked to stop meanwhile, the tick stops dispatching
        and claiming, and ends once the sends in flight are answered or time out. It is not
        cancelled: a database operation cut short can leave its connection unable to close."""
        round_ = asyncio.ensure_future(self.tick())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({round_, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not round_.done():
                self.stopping = True
                log.info("stopping after the sends in flight")
            await round_
        finally:
            stopping.cancel()
