"""Routes: a tenant's decision configuration and the health of its remote OPA endpoints."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.auth.scopes import grants
from gatehouse.decisions.routing import service
from gatehouse.decisions.routing.health import tenant_health
from gatehouse.decisions.routing.schemas import (
    DecisionConfigIn,
    DecisionConfigOut,
    DecisionConfigPatch,
    TenantHealth,
)
from gatehouse.decisions.routing.vetting import vet_endpoints
from gatehouse.kit.http import problems
from gatehouse.kit.problems import Problem
from gatehouse.services import Services
from gatehouse.tenants import service as tenants
from gatehouse.tenants.models import PLATFORM

PREFIX = "/v1/tenants/{tenant_id}"
TARGET = "decision_config"


def build_router(svc: Services) -> APIRouter:
    """Routes under /v1/tenants/{tenant_id}/decision-config and /health."""
    router = APIRouter(prefix=PREFIX, tags=["decision routing"])
    Caller = Annotated[Principal, Depends(authenticator(svc, None))]

    async def admit(request: Request, who: Principal, tenant_id: str, scope: str) -> None:
        """Platform admins manage any tenant; a tenant's token only its own, with `scope`."""
        if who.tenant_id == PLATFORM:
            scope = "platform:admin"
        elif who.tenant_id != tenant_id:
            raise Problem(404, f"No tenant {tenant_id!r}.")
        if not grants(who.scopes, scope):
            if request.method != "GET":
                await svc.audit_denied(request, who, scope)
            raise Problem(403, f"This token lacks the scope {scope!r}.", required_scope=scope)
        async with svc.read() as session:
            await tenants.get_tenant(session, tenant_id)

    async def store(
        request: Request, who: Principal, tenant_id: str, body: DecisionConfigIn
    ) -> tuple[DecisionConfigOut, bool]:
        try:
            await vet_endpoints(body, svc.settings.outbound_allow)
        except Problem as problem:
            await svc.audit_problem(request, who, "decision_config.put", TARGET, tenant_id, problem)
            raise
        action = "decision_config.put"
        async with svc.write(request, who, action, TARGET, tenant_id) as (s, actor):
            row, created = await service.put(s, svc.keys, actor, tenant_id, body)
            out = service.view(tenant_id, row)
        await svc.decision_router.reload(tenant_id)
        return out, created

    @router.get("/decision-config", responses=problems(404))
    async def get_decision_config(
        tenant_id: str, request: Request, who: Caller
    ) -> DecisionConfigOut:
        """A tenant's decision mode, remote OPA endpoints and fallback (secrets never shown)."""
        await admit(request, who, tenant_id, "policies:read")
        async with svc.read() as session:
            return service.view(tenant_id, await service.find(session, tenant_id))

    @router.put(
        "/decision-config",
        responses={
            201: {"model": DecisionConfigOut, "description": "Created."},
            **problems(404, 422),
        },
    )
    async def put_decision_config(
        tenant_id: str, body: DecisionConfigIn, request: Request, response: Response, who: Caller
    ) -> DecisionConfigOut:
        """Replace a tenant's decision configuration; it takes effect at once."""
        await admit(request, who, tenant_id, "policies:write")
        out, created = await store(request, who, tenant_id, body)
        response.status_code = 201 if created else 200
        return out

    @router.patch("/decision-config", responses=problems(404, 422))
    async def patch_decision_config(
        tenant_id: str, body: DecisionConfigPatch, request: Request, who: Caller
    ) -> DecisionConfigOut:
        """Change some fields of a tenant's decision configuration; it takes effect at once."""
        await admit(request, who, tenant_id, "policies:write")
        async with svc.read() as session:
            merged = service.merged(await service.find(session, tenant_id), body)
        out, _ = await store(request, who, tenant_id, merged)
        return out

    @router.delete("/decision-config", status_code=204, responses=problems(404))
    async def delete_decision_config(tenant_id: str, request: Request, who: Caller) -> None:
        """Remove a tenant's configuration: it decides with the embedded engine again."""
        await admit(request, who, tenant_id, "policies:write")
        action = "decision_config.delete"
        async with svc.write(request, who, action, TARGET, tenant_id) as (s, actor):
            await service.remove(s, actor, tenant_id)
        await svc.decision_router.reload(tenant_id)

    @router.get("/health", responses=problems(404))
    async def get_tenant_health(tenant_id: str, request: Request, who: Caller) -> TenantHealth:
        """Per-endpoint health, breaker state, failures, last check and error, latency; and the
        tenant's alerts raised now (threshold, value, since)."""
        await admit(request, who, tenant_id, "policies:read")
        route = svc.decision_router.routes.get(tenant_id)
        return tenant_health(tenant_id, route, svc.alerts.state().get(tenant_id, {}))

    return router
