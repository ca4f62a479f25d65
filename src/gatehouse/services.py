"""The long-lived parts of a running Gatehouse, built once and handed to every router."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.auth.cache import PrincipalCache
from gatehouse.auth.principal import Principal
from gatehouse.auth.usage import UsageRecorder
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.decisions.cache.options import TenantOptions
from gatehouse.decisions.cache.service import DecisionCache
from gatehouse.decisions.cache.store import CacheStore, MemoryStore, RedisStore
from gatehouse.decisions.embedded.engines import EmbeddedEngines
from gatehouse.decisions.enrich import Subjects
from gatehouse.decisions.log import DecisionLog
from gatehouse.decisions.monitor.alerts import Alerts
from gatehouse.decisions.monitor.collector import DecisionCollector
from gatehouse.decisions.monitor.stats import DecisionStats
from gatehouse.decisions.policies import StoredPolicies
from gatehouse.decisions.routing.router import DecisionRouter
from gatehouse.decisions.types import DecisionEngine
from gatehouse.distribution.hub import Distribution
from gatehouse.distribution.served import ServedRevisions
from gatehouse.fleet.revisions import NoRevisions, RevisionSource
from gatehouse.fleet.service import Redactors
from gatehouse.kit.problems import Problem
from gatehouse.observability.metrics import Metrics
from gatehouse.opal.documents import OpalDocuments
from gatehouse.opal.publisher import OpalPublisher
from gatehouse.ratelimit.limiter import RateLimiter
from gatehouse.secrets.keyring import KeyRing
from gatehouse.webhooks.worker import WebhookWorker

log = structlog.get_logger("gatehouse")


def client_ip(request: Request) -> str:
    """The peer address of a request (from the scope: `request.client` builds a tuple)."""
    client = request.scope.get("client")
    return str(client[0]) if client else ""


@dataclass
class Services:
    """Settings, database, key ring, limiter, usage recorder and metrics of one app."""

    settings: Settings
    db: Database
    limiter: RateLimiter
    usage: UsageRecorder
    principals: PrincipalCache = field(default_factory=lambda: PrincipalCache(0))
    metrics: Metrics = field(default_factory=Metrics)
    keyring: KeyRing | None = None
    distribution: Distribution = field(init=False)
    opal_documents: OpalDocuments = field(init=False)
    opal: OpalPublisher = field(init=False)
    webhooks: WebhookWorker = field(init=False)
    # The embedded engines; `decisions` is what the APIs ask (the router, which uses them).
    engines: EmbeddedEngines = field(init=False)
    decisions: DecisionEngine = field(init=False)
    subjects: Subjects = field(init=False)
    decision_log: DecisionLog = field(init=False)
    # Per-tenant remote OPA routing, with the embedded engines as `local`.
    decision_router: DecisionRouter = field(init=False)
    # The decision cache, tenants' cache settings and thresholds, counts and alerts.
    decision_cache: DecisionCache = field(init=False)
    decision_options: TenantOptions = field(init=False)
    decision_stats: DecisionStats = field(default_factory=DecisionStats)
    alerts: Alerts = field(init=False)
    # Which bundle revision each tenant's OPAs should run (set by the distribution package).
    served_revisions: RevisionSource = field(default_factory=NoRevisions)
    # Set to wake the in-process sync worker (a run was just queued).
    worker_wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Called with the tenant after each committed write (data documents catch up at once).
    on_write: list[Callable[[str], None]] = field(default_factory=list)

    @property
    def keys(self) -> KeyRing:
        """The opened key ring (available once the app has started)."""
        if self.keyring is None:
            raise RuntimeError("key ring not loaded; the app has not started")
        return self.keyring

    def __post_init__(self) -> None:
        self.distribution = Distribution(
            self.db, self.settings, lambda: self.keys, StoredPolicies(self.db)
        )
        self.on_write.append(self.distribution.written)
        self.opal_documents = OpalDocuments(
            self.distribution, self.settings.opal_max_document_bytes
        )
        self.opal = OpalPublisher(
            self.db, self.settings, lambda: self.keys, self.distribution, self.opal_documents
        )
        self.on_write.append(self.opal.written)
        self.webhooks = WebhookWorker(self.db, self.settings, lambda: self.keys)
        self.on_write.append(self.webhooks.written)
        settings = self.settings
        self.engines = EmbeddedEngines(
            self.db,
            self.distribution,
            threads=settings.decisions_threads,
            processes=settings.decisions_processes,
            time_limit_ms=settings.decisions_time_limit_ms,
            debounce_seconds=settings.decisions_rebuild_debounce_seconds,
            rebuild_spacing=settings.decisions_rebuild_spacing,
        )
        self.subjects = Subjects(self.db, self.distribution)
        redactors = Redactors(self.db, settings.decision_log_mask_from)
        self.decision_log = DecisionLog(
            self.db, redactors, self.metrics, capacity=settings.decision_log_queue
        )
        self.served_revisions = ServedRevisions(self.db)
        # Every API asks the router: remote OPA for tenants configured so (with their
        # fallback), the embedded engines for the rest.
        self.decision_router = DecisionRouter(
            self.db,
            lambda: self.keys,
            list(self.settings.outbound_allow),
            local=self.engines,
            poll_seconds=self.settings.decision_config_poll_seconds,
            idle_max_seconds=self.settings.idle_poll_max_seconds,
        )
        self.decisions = self.decision_router
        store: CacheStore = MemoryStore(time.monotonic)
        if settings.decision_cache_backend == "redis" and settings.redis_url:
            store = RedisStore(settings.redis_url)
        self.decision_cache = DecisionCache(store, self.decision_router, self.engines)
        self.decision_options = TenantOptions(self.db, settings)
        self.alerts = Alerts(
            self.db,
            self.decision_stats,
            self.decision_options,
            window=settings.alerts_window_seconds,
            interval=settings.alerts_interval_seconds,
        )
        self.metrics.registry.register(DecisionCollector(self.decision_stats, self.alerts.state))

    def wake_worker(self) -> None:
        """Tell the in-process worker there is work now (a no-op when it runs elsewhere)."""
        self.worker_wake.set()

    def tier_limit(self, tier: str) -> int:
        """Per-minute budget of a tier name."""
        return self.settings.tier_limit(tier)

    def actor(self, request: Request, principal: Principal) -> Actor:
        """The audit actor for a request."""
        return principal.audit_actor(
            client_ip(request),
            request.headers.get("user-agent", ""),
            getattr(request.state, "request_id", ""),
        )

    @asynccontextmanager
    async def changing_access(
        self, request: Request, principal: Principal, action: str, target_type: str, target: str
    ) -> AsyncIterator[tuple[AsyncSession, Actor]]:
        """A write that changes who may do what; cached principals are dropped after it commits."""
        async with self.write(request, principal, action, target_type, target) as unit:
            yield unit
        await self.principals.invalidate()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work."""
        async with self.db.transaction(write=False) as session:
            yield session

    @asynccontextmanager
    async def write(
        self, request: Request, principal: Principal, action: str, target_type: str, target: str
    ) -> AsyncIterator[tuple[AsyncSession, Actor]]:
        """A unit of work for a mutation; if it fails, the failed attempt is audited instead."""
        actor = self.actor(request, principal)
        try:
            async with self.db.transaction() as session:
                yield session, actor
        except Problem as exc:
            await self._audit_failure(actor, action, target_type, target, exc.status, exc.detail)
            raise
        for notify in self.on_write:
            notify(actor.tenant_id)

    async def audit_problem(
        self,
        request: Request,
        principal: Principal,
        action: str,
        target_type: str,
        target: str,
        problem: Problem,
    ) -> None:
        """Record a mutation refused with `problem` outside a `write` unit of work."""
        actor = self.actor(request, principal)
        await self._audit_failure(
            actor, action, target_type, target, problem.status, problem.detail
        )

    async def audit_denied(self, request: Request, principal: Principal, scope: str) -> None:
        """Record a mutation refused for want of a scope."""
        action = f"{request.method} {request.url.path}"
        detail = f"missing scope {scope}"
        await self._audit_failure(self.actor(request, principal), action, "route", "", 403, detail)

    async def _audit_failure(
        self, actor: Actor, action: str, target_type: str, target: str, status: int, detail: str
    ) -> None:
        outcome = "denied" if status in (401, 403) else "failure"
        try:
            async with self.db.transaction() as session:
                await audit.record(
                    session,
                    actor,
                    action,
                    target_type,
                    target,
                    after={"status": status, "detail": detail},
                    outcome=outcome,
                )
        except Exception:
            log.exception("could not audit a failed action", action=action)
