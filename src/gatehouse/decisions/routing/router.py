"""The decision router: each tenant's decisions go to its remote OPAs or the embedded engine,
and to its fallback when no OPA can answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from sqlalchemy import select

from gatehouse.config import IPNetwork
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.decisions.remote.engine import NoEndpointAnswered, RemoteEngine
from gatehouse.decisions.routing import basic
from gatehouse.decisions.routing.models import DecisionConfig
from gatehouse.decisions.routing.schemas import DEFAULT_DECISION, data_path
from gatehouse.decisions.routing.service import find
from gatehouse.decisions.routing.tenant import TenantRouting, routing_of
from gatehouse.decisions.types import Decision, DecisionEngine, EvaluationError
from gatehouse.kit.pacing import Pacer
from gatehouse.secrets.keyring import KeyRing
from gatehouse.tenants.models import Tenant

log = structlog.get_logger("gatehouse.decisions")
# What each remote tenant's route counts: decisions asked, answered by a fallback, refused by OPA.
COUNTS = ("decisions", "fallbacks", "errors")


@dataclass
class Route:
    """A tenant's routing and, in remote mode, its running engine and counters."""

    routing: TenantRouting
    engine: RemoteEngine | None
    counts: Counter[str] = field(default_factory=Counter)


class NoLocalEngine:
    """Stands in until an embedded engine is given: every question is an error."""

    async def evaluate(self, tenant_id: str, path: str, input: Any) -> Decision:
        """Refuse: there is no embedded engine in this process."""
        raise EvaluationError("engine_unavailable", "no embedded engine is configured", 503)


class DecisionRouter:
    """Implements DecisionEngine over every tenant's configuration, reloaded at runtime."""

    def __init__(
        self,
        db: Database,
        keys: Callable[[], KeyRing],
        allow: list[IPNetwork],
        local: DecisionEngine | None = None,
        poll_seconds: float = 2.0,
        idle_max_seconds: float = 0.0,
    ) -> None:
        self.db = db
        self.idle_max_seconds = idle_max_seconds
        self.keys = keys
        self.allow = allow
        self.local: DecisionEngine = local or NoLocalEngine()
        self.poll_seconds = poll_seconds
        self.routes: dict[str, Route] = {}
        self.lock = asyncio.Lock()
        self.closing: set[asyncio.Task[None]] = set()

    async def evaluate(self, tenant_id: str, path: str, input: Any) -> Decision:
        """The tenant's decision: remote, its fallback, or the embedded engine."""
        route = self.routes.get(tenant_id)
        if route is None or route.engine is None:
            return await self.local.evaluate(tenant_id, path, input)
        return (await self._ask(route, route.engine, path, input, None))[0]

    def default_decision(self, tenant_id: str) -> str:
        """The rule OPA's `POST /` evaluates for the tenant (`/system/main` unless configured)."""
        route = self.routes.get(tenant_id)
        return route.routing.default_decision if route is not None else DEFAULT_DECISION

    def remote(self, tenant_id: str) -> bool:
        """Whether the tenant's decisions go to remote OPAs."""
        route = self.routes.get(tenant_id)
        return route is not None and route.engine is not None

    async def explain(
        self, tenant_id: str, path: str, input: Any, params: dict[str, str]
    ) -> tuple[Decision, Any] | None:
        """A remote tenant's decision with its OPA's `explanation` (`params` passed on; a
        fallback's answer has none); None when the tenant does not decide remotely."""
        route = self.routes.get(tenant_id)
        if route is None or route.engine is None:
            return None
        return await self._ask(route, route.engine, path, input, params)

    async def _ask(
        self,
        route: Route,
        engine: RemoteEngine,
        path: str,
        input: Any,
        params: dict[str, str] | None,
    ) -> tuple[Decision, Any]:
        """The remote answer (and its explanation), or the fallback's when no OPA answered."""
        route.counts["decisions"] += 1
        try:
            answer, endpoint = await engine.ask(path, input, params)
        except NoEndpointAnswered:
            route.counts["fallbacks"] += 1
            return await self.fallback(route.routing, path, input), None
        except EvaluationError:
            route.counts["errors"] += 1
            raise
        decision = Decision(answer.defined, answer.result, engine="remote", endpoint=endpoint.url)
        return decision, answer.explanation

    async def fallback(self, routing: TenantRouting, path: str, input: Any) -> Decision:
        """The answer when no endpoint could give one, as the tenant chose."""
        mode = routing.fallback_mode
        if mode == "embedded":
            decision = await self.local.evaluate(routing.tenant_id, path, input)
            return replace(decision, engine="fallback:embedded", endpoint=None)
        if mode == "basic":
            async with self.db.transaction(write=False) as session:
                ok = await basic.allowed(session, routing.tenant_id, routing.basic_grants, input)
            return Decision(True, ok, engine="fallback:basic")
        denied = routing.deny_results.get(data_path(path), False)
        return Decision(True, denied, engine="fallback:deny")

    async def reload(self, tenant_id: str) -> None:
        """Rebuild one tenant's route from the database (after its configuration changed)."""
        async with self.lock:
            async with self.db.transaction(write=False) as session:
                row = await find(session, tenant_id)
                tenant = await session.get(Tenant, tenant_id)
                if tenant is None or tenant.status != "active":
                    row = None  # a suspended or deleted tenant's endpoints are not checked
                routing = await routing_of(session, row, self.keys()) if row else None
            await self._install(tenant_id, routing)

    async def refresh(self) -> bool:
        """Catch up with configurations changed by other processes (version numbers); whether
        any had changed."""
        stmt = (
            select(DecisionConfig.tenant_id, DecisionConfig.version)
            .join(Tenant, Tenant.id == DecisionConfig.tenant_id)
            .where(Tenant.status == "active")
            .execution_options(**{ALL_TENANTS: True})
        )
        async with self.db.transaction(write=False) as session:
            stored = {t: v for t, v in (await session.execute(stmt)).all()}
        changed = False
        for tenant_id in set(self.routes) - set(stored):
            changed = True
            await self.reload(tenant_id)
        for tenant_id, version in stored.items():
            route = self.routes.get(tenant_id)
            if route is None or route.routing.version != version:
                changed = True
                await self.reload(tenant_id)
        return changed

    async def _install(self, tenant_id: str, routing: TenantRouting | None) -> None:
        old = self.routes.pop(tenant_id, None)
        if routing is not None:
            # The tenant's counters outlive configuration changes (they count its decisions).
            counts = old.counts if old is not None else Counter[str]()
            if old is not None and old.engine is not None and routing.remote == old.routing.remote:
                # Only the fallback changed: keep the endpoints, their health and breakers.
                engine, old = old.engine, None
            elif routing.remote is not None:
                engine = RemoteEngine(routing.remote, self.allow)
                engine.start()
            else:
                engine = None
            self.routes[tenant_id] = Route(routing, engine, counts)
            log.info("decision routing loaded", tenant=tenant_id, mode=routing.mode)
        if old is not None and old.engine is not None:
            # Requests already on the old endpoints finish before their clients close.
            grace = old.engine.spec.request_timeout * len(old.engine.endpoints)
            task = asyncio.create_task(old.engine.close(grace))
            self.closing.add(task)
            task.add_done_callback(self.closing.discard)

    async def run(self, stop: asyncio.Event) -> None:
        """Load every configuration, then follow changes until `stop` is set (backing off while
        none change: this process's own changes are applied as they are made)."""
        pacer = Pacer(self.poll_seconds, self.idle_max_seconds)
        while not stop.is_set():
            try:
                wait = pacer.after(await self.refresh())
            except Exception:
                wait = pacer.after(False)
                log.exception("could not refresh decision routing")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def close(self) -> None:
        """Stop every health check and close every client."""
        routes, self.routes = self.routes, {}
        await asyncio.gather(*(r.engine.close() for r in routes.values() if r.engine))
        await asyncio.gather(*self.closing, return_exceptions=True)
