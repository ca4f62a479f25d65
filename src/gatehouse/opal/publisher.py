"""The OPAL publisher: notices new document revisions, queues DataUpdates, delivers them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.distribution.hub import Distribution
from gatehouse.kit.outbound import outbound_client
from gatehouse.kit.pacing import Pacer
from gatehouse.kit.problems import Problem
from gatehouse.opal import queue, service, wire
from gatehouse.opal.documents import OpalDocuments
from gatehouse.opal.models import OpalPublish
from gatehouse.opal.service import Opened
from gatehouse.secrets.keyring import KeyRing

log = structlog.get_logger("gatehouse.opal")
LEASE_SECONDS = 30.0
SYSTEM = "system:opal"


class Undeliverable(Exception):
    """A publish that retrying cannot help (publishing turned off, document too large)."""


class RetryableError(Exception):
    """The OPAL server answered with an error status."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"OPAL server answered {status}: {body}")
        self.status = status


class OpalPublisher:
    """Keeps each enabled tenant's OPAL server told about the tenant's newest document."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        ring: Callable[[], KeyRing],
        hub: Distribution,
        documents: OpalDocuments,
    ) -> None:
        self.db, self.settings, self.ring, self.hub = db, settings, ring, hub
        self.documents = documents
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.wake = asyncio.Event()
        self.seen: dict[str, int] = {}
        self.dirty: set[str] = set()
        self.opened: dict[tuple[str, int], Opened] = {}
        self.next_due: datetime | None = None

    def written(self, tenant: str) -> None:
        """A write committed for `tenant`: look at its document now."""
        self.dirty.add(tenant)
        self.wake.set()

    async def notice(self, tenant: str, written: bool = False) -> OpalPublish | None:
        """Queue a publish when the tenant's document moved past what was last published."""
        # After our own write, wait for the document to include it (the hub may be mid-way).
        current = await (self.hub.catch_up(tenant) if written else self.hub.current(tenant))
        if self.seen.get(tenant) == current.revision:
            return None
        async with self.db.transaction() as session:
            row = await service.settings_row(session, tenant)
            if row is None or not row.config.get("enabled"):
                return None
            if await queue.last_revision(session, tenant) >= current.revision:
                self.seen[tenant] = current.revision
                return None
            last = await queue.last_attempt(session, tenant)
            debounce = timedelta(seconds=float(row.config.get("debounce_seconds", 1.0)))
            due = max(datetime.now(UTC), last + debounce) if last else None
            reason = f"data document revision {current.revision}"
            published = await queue.enqueue(
                session, tenant, current.revision, "change", reason, due=due
            )
            self.seen[tenant] = current.revision
        self.remember_due(published.due_at)
        return published

    def remember_due(self, due: datetime) -> None:
        """Wake up in time for a publish due at `due`."""
        if self.next_due is None or due < self.next_due:
            self.next_due = due

    async def tick(self) -> int:
        """Queue what changed, then deliver everything due; returns how many were delivered."""
        async with self.db.transaction(write=False) as session:
            tenants = await service.enabled_tenants(session)
        written, self.dirty = self.dirty, set()
        for tenant in tenants:
            try:
                await self.notice(tenant, tenant in written)
            except Exception:
                log.exception("could not queue an OPAL publish", tenant=tenant)
        delivered = 0
        while (row := await queue.claim(self.db, self.owner, LEASE_SECONDS)) is not None:
            delivered += await self.deliver(row)
        return delivered

    async def settings_of(self, tenant: str) -> Opened:
        """The tenant's settings with tokens opened (once per settings version, audited)."""
        async with self.db.transaction() as session:
            row = await service.settings_row(session, tenant)
            if row is None or not row.config.get("enabled"):
                raise Undeliverable("OPAL publishing is not enabled for this tenant")
            found = self.opened.get((tenant, row.version))
            if found is None:
                found = await service.opened(session, self.ring(), row)
                after = {"version": row.version, "purpose": "publish to OPAL"}
                actor = Actor(tenant, SYSTEM)
                await audit.record(
                    session, actor, "opal.tokens.open", "tenant", tenant, after=after
                )
                self.opened[(tenant, row.version)] = found
            return found

    async def deliver(self, row: OpalPublish) -> int:
        """Send one claimed publish; 1 when OPAL took it."""
        tenant = row.tenant_id
        try:
            opened = await self.settings_of(tenant)
            try:
                doc = await self.documents.whole(tenant)
            except Problem as exc:
                raise Undeliverable(exc.detail) from None
            if opened.fetch_token is None:
                raise Undeliverable("no fetch token is set for OPAL clients")
            update = wire.data_update(
                row.id, opened.settings, tenant, doc.root, opened.fetch_token, row.reason
            )
            status = await self.send(opened, update)
        except Undeliverable as exc:
            await queue.finish(self.db, row, self.owner, status="failed", last_error=str(exc))
            return 0
        except (httpx.HTTPError, OSError, RetryableError) as exc:
            wait = queue.backoff(row.attempts, self.settings.opal_retry_max_seconds)
            due = datetime.now(UTC) + timedelta(seconds=wait)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            code = exc.status if isinstance(exc, RetryableError) else None
            await queue.finish(
                self.db,
                row,
                self.owner,
                status="pending",
                due_at=due,
                last_error=error,
                response_status=code,
            )
            self.remember_due(due)
            log.warning("OPAL publish failed; will retry", tenant=tenant, error=error, wait=wait)
            return 0
        await queue.finish(
            self.db,
            row,
            self.owner,
            status="delivered",
            delivered_at=datetime.now(UTC),
            revision=doc.revision,
            update=wire.redacted(update),
            response_status=status,
            last_error=None,
        )
        return 1

    async def send(self, opened: Opened, update: dict[str, object]) -> int:
        """POST the update to the OPAL server's /data/config through the outbound guard."""
        server = str(opened.settings.server_url or "").rstrip("/")
        headers = {"Content-Type": "application/json"}
        if opened.datasource_token:
            headers["Authorization"] = f"Bearer {opened.datasource_token}"
        async with outbound_client(self.settings.outbound_allow) as client:
            response = await client.post(f"{server}/data/config", json=update, headers=headers)
        if response.status_code >= 300:
            raise RetryableError(response.status_code, response.text[:500])
        return response.status_code

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until stopped, backing off while idle; woken early by this process's writes
        and by due retries."""
        pacer = Pacer(self.settings.opal_poll_seconds, self.settings.idle_poll_max_seconds)
        idle = pacer.period
        while not stop.is_set():
            wait = idle
            if self.next_due is not None:
                wait = min(wait, max(0.0, (self.next_due - datetime.now(UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
            woken = self.wake.is_set() or self.next_due is not None
            self.wake.clear()
            self.next_due = None
            try:
                idle = pacer.after(await self.tick() > 0 or woken)
            except Exception:
                idle = pacer.after(False)
                log.exception("OPAL publishing failed")
