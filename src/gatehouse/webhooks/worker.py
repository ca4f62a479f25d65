"""The webhook worker: dispatches outbox events, then sends due deliveries with retries."""

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
from typing import NamedTuple

import httpx
import orjson
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.events.service import emit
from gatehouse.kit.outbound import outbound_client
from gatehouse.secrets.keyring import KeyRing
from gatehouse.webhooks import queue, service, signing
from gatehouse.webhooks.dispatch import Dispatcher, envelope
from gatehouse.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from gatehouse.webhooks.sender import USER_AGENT, Outcome, post, shown_headers

log = structlog.get_logger("gatehouse.webhooks")
LEASE = timedelta(seconds=120)  # longer than any endpoint timeout (60 s at most)
SYSTEM = "system:webhooks"
PURGE_EVERY = timedelta(hours=1)
Clock = Callable[[], datetime]
# Outgoing connections: POOL_SHARDS pools of POOL_SIZE (200 in all), taken in turn.
POOL_SHARDS = 8
POOL_SIZE = 25


class Opened(NamedTuple):
    """An endpoint with what it sends under: its signing secrets and custom headers."""

    row: WebhookEndpoint
    secrets: list[str]
    headers: dict[str, str]


@dataclass
class Step:
    """One claimed delivery after its turn: the values to finish it with, and the attempt."""

    row: WebhookDelivery
    values: dict[str, object]
    endpoint: WebhookEndpoint | None = None
    outcome: Outcome | None = None
    attempt: WebhookAttempt | None = None


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
        self.window: dict[str, tuple[int, int]] = {}  # endpoint -> (second, sends in it)
        self._clients: list[httpx.AsyncClient] = []
        self._turn = 0
        self.purged_at: datetime | None = None

    def written(self, tenant: str) -> None:
        """A write committed: its events may be waiting."""
        self.wake.set()

    @property
    def client(self) -> httpx.AsyncClient:
        """A guarded client, the next of several small pools in turn (redirects are never
        followed: a 3xx is a failed attempt). httpcore's pool costs grow with the square of its
        connections, so 8 pools of 25 send far faster than one of 200."""
        if not self._clients:
            limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
            self._clients = [
                outbound_client(self.settings.outbound_allow, follow_redirects=False, limits=limits)
                for _ in range(POOL_SHARDS)
            ]
        self._turn = (self._turn + 1) % len(self._clients)
        return self._clients[self._turn]

    async def close(self) -> None:
        """Close the HTTP clients."""
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    async def tick(self) -> int:
        """Dispatch new events, then send everything due; how many were delivered."""
        while await self.dispatcher.run_once(self.clock()) == self.dispatcher.batch:
            pass
        await self.purge_if_due()
        delivered = 0
        batch = self.settings.webhooks_batch
        while rows := await queue.claim(self.db, self.owner, self.clock(), LEASE, batch):
            endpoints = await self._endpoints({r.endpoint_id for r in rows})
            steps = list(await asyncio.gather(*(self.deliver(r, endpoints) for r in rows)))
            await self.settle(steps)
            delivered += sum(1 for s in steps if s.outcome is not None and s.outcome.succeeded)
            if len(rows) < batch:
                break
        return delivered

    async def purge_if_due(self) -> int:
        """Once an hour, drop what is older than the retention period."""
        now = self.clock()
        if self.purged_at is not None and now - self.purged_at < PURGE_EVERY:
            return 0
        self.purged_at = now
        keep = timedelta(days=self.settings.webhooks_retention_days)
        return await queue.purge(self.db, now - keep)

    async def _endpoints(self, ids: set[str]) -> dict[str, Opened]:
        """The endpoints of claimed deliveries with the secrets that sign for them now and
        their custom headers, opened."""
        found: dict[str, Opened] = {}
        async with self.db.transaction(write=False) as session:
            query = (
                select(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(ids))
                .execution_options(**{ALL_TENANTS: True})
            )
            for row in (await session.execute(query)).scalars():
                ring = self.ring()
                secrets = await service.signing_secrets(session, ring, row, self.clock())
                custom = await service.headers_of(session, ring, row)
                session.expunge(row)
                found[row.id] = Opened(row, secrets, custom)
        return found

    def _over_rate(self, endpoint: WebhookEndpoint, now: datetime) -> bool:
        if endpoint.rate_limit is None:
            return False
        second = int(now.timestamp())
        start, count = self.window.get(endpoint.id, (second, 0))
        count = count + 1 if start == second else 1
        self.window[endpoint.id] = (second, count)
        return count > endpoint.rate_limit

    async def deliver(self, row: WebhookDelivery, endpoints: dict[str, Opened]) -> Step:
        """Send one claimed delivery (unless it cannot or must wait); what to record."""
        now = self.clock()
        opened = endpoints.get(row.endpoint_id)
        if opened is None or not opened.row.enabled:
            reason = "endpoint deleted" if opened is None else "endpoint disabled"
            return Step(row, {"status": "failed", "last_error": reason, "finished_at": now})
        endpoint, secrets = opened.row, opened.secrets
        if self._over_rate(endpoint, now):  # not an attempt: put it back for the next second
            due = now.replace(microsecond=0) + timedelta(seconds=1)
            return Step(row, {"status": "pending", "due_at": due, "attempts": row.attempts - 1})
        body = orjson.dumps(row.body)
        headers = {
            **opened.headers,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            # Receivers compare this with their own clock: it is wall time, never the test clock.
            **signing.headers(secrets, f"msg_{row.id}", int(time.time()), body),
        }
        limit = self.settings.webhooks_max_payload_bytes
        oversized = len(body) > limit
        if oversized:
            outcome = Outcome(None, "", 0.0, f"body of {len(body)} bytes is over {limit}")
        else:
            outcome = await post(
                self.client, endpoint.url, body, headers, endpoint.timeout_seconds, now
            )
        values = self.next_state(row, endpoint, outcome, oversized)
        attempt = WebhookAttempt(
            tenant_id=row.tenant_id,
            endpoint_id=row.endpoint_id,
            delivery_id=row.id,
            event_type=row.event_type,
            series=row.series,
            attempt=row.attempts,
            succeeded=outcome.succeeded,
            request_headers=shown_headers(headers),
            response_status=outcome.status,
            response_body=outcome.body,
            latency_ms=round(outcome.latency_ms, 3),
            error=outcome.error,
            created_at=self.clock(),
        )
        return Step(row, values, endpoint, outcome, attempt)

    def next_state(
        self, row: WebhookDelivery, endpoint: WebhookEndpoint, outcome: Outcome, oversized: bool
    ) -> dict[str, object]:
        """What an attempt leaves the delivery as: delivered, due again later, or failed."""
        now = self.clock()
        values: dict[str, object] = {"last_status": outcome.status, "last_error": outcome.error}
        if outcome.succeeded:
            values.update(status="delivered", finished_at=now, last_error=None)
            return values
        wait = None
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
            for step in steps:
                if not await queue.finish(session, step.row, self.owner, **step.values):
                    continue  # our lease ran out and another worker took the delivery
                if step.attempt is None or step.endpoint is None or step.outcome is None:
                    continue
                session.add(step.attempt)
                if step.outcome.status == 410:
                    await self.disable(session, step.endpoint, "the endpoint answered 410 Gone")
                elif not step.outcome.succeeded:
                    await self.give_up_if_failing(session, step.endpoint, self.clock())

    async def give_up_if_failing(
        self, session: AsyncSession, endpoint: WebhookEndpoint, now: datetime
    ) -> None:
        """Disable an endpoint whose attempts have all failed for the configured time."""
        await session.flush()
        since = await queue.failing_since(session, endpoint.tenant_id, endpoint.id)
        hours = self.settings.webhooks_disable_after_hours
        if since is not None:  # a change to the endpoint (re-enabling it) starts a new count
            since = max(since, endpoint.updated_at)
        if since is not None and now - since >= timedelta(hours=hours):
            reason = f"every attempt since {since.isoformat()} failed ({hours:g} h)"
            await self.disable(session, endpoint, reason)

    async def disable(self, session: AsyncSession, endpoint: WebhookEndpoint, reason: str) -> None:
        """Turn an endpoint off, with its `endpoint.disabled` event and an audit entry."""
        tenant = endpoint.tenant_id
        row = await service.find(session, tenant, endpoint.id)
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
        step = await self.deliver(row, await self._endpoints({endpoint_id}))
        await self.settle([step])
        return row, step.outcome

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until stopped; woken early by this process's writes."""
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.settings.webhooks_poll_seconds)
                self.wake.clear()
                if stop.is_set():
                    break
                try:
                    await self.tick()
                except Exception:
                    log.exception("webhook delivery failed")
        finally:
            await self.close()
