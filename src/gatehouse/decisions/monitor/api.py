"""Routes: the decision metrics JSON (reference 002's dashboard), cache settings, thresholds."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.auth.scopes import grants
from gatehouse.decisions.cache import options
from gatehouse.decisions.cache.options import B
from gatehouse.decisions.schemas import AlertThresholds, CacheSettings
from gatehouse.kit.http import problems
from gatehouse.kit.problems import Problem
from gatehouse.services import Services
from gatehouse.tenants.models import PLATFORM

METRICS = "/v1/metrics"
CACHE = "/v1/decision-settings/cache"
ALERTS = "/v1/decision-settings/alerts"


def build_router(svc: Services) -> APIRouter:
    """GET /v1/metrics and the cache and alert settings under /v1/decision-settings."""
    router = APIRouter(tags=["decision metrics"])
    Caller = Annotated[Principal, Depends(authenticator(svc, None))]
    Reader = Annotated[Principal, Depends(authenticator(svc, "policies:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "policies:write"))]

    @router.get(METRICS, responses=problems(403))
    async def metrics(who: Caller) -> dict[str, Any]:
        """This process's decision counts: `global_metrics` and `tenant_metrics` (a tenant
        token with `decisions:read` sees its own tenant; a platform token with
        `platform:metrics` every tenant), and the alerts raised now."""
        stats, raised = svc.decision_stats, svc.alerts.state()
        if who.tenant_id == PLATFORM:
            if not grants(who.scopes, "platform:metrics"):
                raise Problem(403, "This token lacks the scope 'platform:metrics'.")
            tenants = sorted(stats.tenants)
            total = stats.total()
        else:
            if not grants(who.scopes, "decisions:read"):
                raise Problem(403, "This token lacks the scope 'decisions:read'.")
            tenants = [who.tenant_id]
            total = stats.of(who.tenant_id).copy()
        return {
            "global_metrics": total.document(),
            "tenant_metrics": {t: stats.of(t).document() for t in tenants},
            "alerts": {t: list(raised.get(t, {}).values()) for t in tenants},
            "scope": "process",
        }

    async def store(
        request: Request, who: Principal, what: Literal["cache", "alerts"], body: B
    ) -> B:
        """Store and audit the settings the body names; this process reads them again at once."""
        unit = svc.write(request, who, options.ACTIONS[what], "decision_settings", what)
        async with unit as (session, actor):
            now = await options.put(session, actor, what, body)
        svc.decision_options.forget(who.tenant_id)
        return now

    @router.get(CACHE, responses=problems())
    async def cache_get(who: Reader) -> CacheSettings:
        """The tenant's decision cache settings (null: the configured default)."""
        return (await svc.decision_options.of(who.tenant_id))[0].cache

    @router.put(CACHE, responses=problems(422))
    async def cache_put(request: Request, who: Writer, body: CacheSettings) -> CacheSettings:
        """Change the cache settings the body names (audited; the others keep their values);
        cached answers are dropped."""
        now = await store(request, who, "cache", body)
        await svc.decision_cache.store.evict(who.tenant_id)
        return now

    @router.get(ALERTS, responses=problems())
    async def alerts_get(who: Reader) -> AlertThresholds:
        """The tenant's alert thresholds (null: that alert is off)."""
        return (await svc.decision_options.of(who.tenant_id))[0].alerts

    @router.put(ALERTS, responses=problems(422))
    async def alerts_put(request: Request, who: Writer, body: AlertThresholds) -> AlertThresholds:
        """Change the thresholds the body names (audited; the others keep their values);
        evaluated at the next interval."""
        return await store(request, who, "alerts", body)

    return router
