"""The running side of distribution: current revisions, change waiters, built bundles."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from cachetools import LRUCache
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.distribution import keys, service
from gatehouse.distribution.bundle import Built, delta_bundle, full_bundle
from gatehouse.distribution.document import Snapshot, etag_of
from gatehouse.distribution.graph import GroupGraph
from gatehouse.distribution.materialize import Limits, refresh
from gatehouse.distribution.models import DocumentState, Revision
from gatehouse.distribution.policies import NoPolicies, PolicySource
from gatehouse.distribution.signing import Signer
from gatehouse.events.models import Event
from gatehouse.kit.pacing import Pacer
from gatehouse.kit.problems import Problem
from gatehouse.secrets.keyring import KeyRing

log = structlog.get_logger("gatehouse.distribution")


@dataclass(frozen=True, slots=True)
class Current:
    """A tenant's current revision as this process knows it."""

    revision: int
    content_hash: str

    @property
    def etag(self) -> str:
        """Its ETag."""
        return etag_of(self.revision, self.content_hash)


@dataclass
class Tenant:
    """What this process holds for one tenant."""

    current: Current
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    snapshot: Snapshot | None = None
    graph: GroupGraph | None = None
    dirty: bool = False


async def newest_event(session: AsyncSession) -> int:
    """The id of the newest event of any tenant (-1: none yet)."""
    stmt = select(func.max(Event.id)).execution_options(**{ALL_TENANTS: True})
    return int((await session.execute(stmt)).scalar() or -1)


class Distribution:
    """Keeps tenants' documents current and turns them into bundles."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        ring: Callable[[], KeyRing],
        policies: PolicySource | None = None,
    ) -> None:
        self.db, self.settings, self.ring = db, settings, ring
        self.policies = policies or NoPolicies()
        self.limits = Limits(delta_window=settings.distribution_delta_window)
        self.tenants: dict[str, Tenant] = {}
        self.bundles: LRUCache[tuple[str, str, int, bool], Built] = LRUCache(maxsize=32)
        self.signers: dict[tuple[str, str], Signer] = {}
        self.wake = asyncio.Event()
        self.watermark = 0

    def written(self, tenant: str) -> None:
        """A write committed for `tenant`: catch up soon (only tenants someone reads)."""
        held = self.tenants.get(tenant)
        if held is not None:
            held.dirty = True
            self.wake.set()

    async def current(self, tenant: str) -> Current:
        """The tenant's revision, caught up with this process's own writes."""
        held = self.tenants.get(tenant)
        if held is None or held.dirty:
            await self.catch_up(tenant)
            held = self.tenants[tenant]
        return held.current

    async def catch_up(self, tenant: str, *, bump: bool = False) -> Current:
        """Apply the tenant's pending changes now."""
        held = self.tenants.get(tenant)
        lock = held.lock if held else asyncio.Lock()
        async with lock:
            held = self.tenants.get(tenant)
            graph = held.graph if held else None
            if held is not None:
                held.dirty = False
            async with self.db.transaction() as session:
                if not self.watermark:
                    # Before the first document is read: events after it are what poll() wants.
                    self.watermark = await newest_event(session)
                state, graph = await refresh(session, tenant, self.limits, graph, bump=bump)
                now = Current(state.revision, state.content_hash)
            if held is None:
                held = self.tenants.setdefault(tenant, Tenant(now, lock))
            held.graph = graph
            self._publish(held, now)
            return now

    def _publish(self, held: Tenant, now: Current) -> None:
        if now != held.current:
            held.current = now
            waiting, held.changed = held.changed, asyncio.Event()
            waiting.set()

    async def wait_change(self, tenant: str, seen: Current, seconds: float) -> Current:
        """The tenant's revision once it differs from `seen`, or after `seconds`."""
        held = self.tenants[tenant]
        if held.current == seen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(held.changed.wait(), seconds)
        return held.current

    async def known_revision(self, tenant: str, revision: int, prefix: str) -> bool:
        """Whether a client's (revision, hash prefix) is one this tenant published."""
        async with self.db.transaction(write=False) as session:
            stmt = select(Revision.content_hash).where(
                Revision.tenant_id == tenant, Revision.revision == revision
            )
            found = (
                await session.execute(stmt.execution_options(gatehouse_tenant_id=tenant))
            ).scalar_one_or_none()
        return found is not None and found[:16] == prefix

    async def snapshot(self, tenant: str) -> Snapshot:
        """The tenant's document in memory at its current revision."""
        held = self.tenants[tenant]
        if held.snapshot is None:
            held.snapshot = Snapshot(tenant)
        snap = held.snapshot
        if snap.revision != held.current.revision:
            async with self.db.transaction(write=False) as session:
                await snap.sync(session)
        return snap

    async def signer(self, tenant: str) -> Signer | None:
        """The tenant's active signing key, opened once per process (and audited then)."""
        async with self.db.transaction() as session:
            key = await service.active_key(session, tenant)
            if key is None:
                return None
            found = self.signers.get((tenant, key.id))
            if found is None:
                found = await keys.signer_for(session, self.ring(), tenant, key)
                actor = Actor(tenant, "system:distribution")
                await audit.record(
                    session, actor, "signing_key.open", "signing_key", key.id, after={}
                )
                self.signers[(tenant, key.id)] = found
            return found

    async def bundle(self, tenant: str, since: int | None, delta_ok: bool) -> Built:
        """The bundle for a client at revision `since` (None: unknown): a delta when it is
        recent enough and accepts one, the full bundle otherwise. A tenant with a signing key
        never serves a delta: OPA verifies no delta bundle, so it gets the signed snapshot."""
        snap = await self.snapshot(tenant)
        level = self.settings.distribution_gzip_level
        if since is not None and delta_ok and snap.delta:
            cached = self.bundles.get((tenant, snap.etag, since, True))
            if cached is not None:  # only unsigned revisions have deltas (a key changes the etag)
                return cached
        if since is not None and delta_ok and snap.delta and await self.signer(tenant) is None:
            max_ops = self.settings.distribution_delta_max_ops
            patch = await asyncio.to_thread(snap.patch_json, since, max_ops)
            if patch is not None:
                built = await asyncio.to_thread(delta_bundle, snap, patch, level)
                self.bundles[(tenant, snap.etag, since, True)] = built
                return built
        cached = self.bundles.get((tenant, snap.etag, -1, False))
        if cached is not None:
            return cached
        signer = await self.signer(tenant)
        policies = await self.policies.policies(tenant)
        built = await asyncio.to_thread(self._full, snap, policies, signer, level)
        self.bundles[(tenant, snap.etag, -1, False)] = built
        return built

    def _full(
        self, snap: Snapshot, policies: dict[str, bytes], signer: Signer | None, level: int
    ) -> Built:
        data = snap.data_json()
        limit = self.settings.distribution_max_document_bytes
        if len(data) > limit:
            raise Problem(
                422,
                f"The data document is {len(data)} bytes, over the limit of {limit} "
                "(GATEHOUSE_DISTRIBUTION_MAX_DOCUMENT_BYTES): include fewer streams or fields "
                "(PUT /v1/distribution/config) or raise the limit.",
                title="Data document too large",
                size_bytes=len(data),
                limit_bytes=limit,
            )
        return full_bundle(snap, data, policies, signer, level)

    async def poll(self) -> bool:
        """Catch up with changes made by other processes (and this one's own writes); whether
        anything had changed."""
        if not self.tenants:
            return False
        async with self.db.transaction(write=False) as session:
            scoped = {ALL_TENANTS: True}
            newest = await session.execute(
                select(Event.tenant_id, func.max(Event.id))
                .where(Event.id > self.watermark)
                .group_by(Event.tenant_id)
                .execution_options(**scoped)
            )
            active = dict(newest.all())
            states = await session.execute(
                select(DocumentState.tenant_id, DocumentState.revision, DocumentState.content_hash)
                .where(DocumentState.tenant_id.in_(list(self.tenants)))
                .execution_options(**scoped)
            )
            stored = {t: Current(r, h) for t, r, h in states}
        if active:
            self.watermark = max(self.watermark, *active.values())
        found = bool(active)
        for tenant, held in list(self.tenants.items()):
            if held.dirty or tenant in active:
                found = True
                try:
                    await self.catch_up(tenant)
                except Exception:
                    log.exception("could not refresh a data document", tenant=tenant)
            elif tenant in stored and stored[tenant] != held.current:
                found = True
                self._publish(held, stored[tenant])
        return found

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until stopped, backing off while idle; woken early by this process's writes."""
        pacer = Pacer(self.settings.distribution_poll_seconds, self.settings.idle_poll_max_seconds)
        wait = pacer.period
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
            self.wake.clear()
            try:
                wait = pacer.after(await self.poll())
            except Exception:
                wait = pacer.after(False)
                log.exception("distribution poll failed")
