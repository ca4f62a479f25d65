"""Tenant administration routes (platform tokens only)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.services import Services
from gatehouse.tenants import service
from gatehouse.tenants.schemas import TenantCreate, TenantOut, TenantUpdate


def build_router(svc: Services) -> APIRouter:
    """Routes under /v1/tenants."""
    router = APIRouter(prefix="/v1/tenants", tags=["tenants"])
    Admin = Annotated[Principal, Depends(authenticator(svc, "platform:admin"))]

    @router.post("", status_code=status.HTTP_201_CREATED, responses=problems(409, 422))
    async def create_tenant(
        body: TenantCreate, request: Request, response: Response, who: Admin
    ) -> TenantOut:
        """Create a tenant."""
        async with svc.write(request, who, "tenant.create", "tenant", body.id) as (s, actor):
            tenant = await service.create_tenant(s, actor, body)
            out = TenantOut.model_validate(tenant)
        response.headers["Location"] = f"/v1/tenants/{out.id}"
        return out

    @router.get("", responses=problems(400))
    async def list_tenants(
        who: Admin, cursor: Cursor = None, limit: Limit = 100
    ) -> Page[TenantOut]:
        """List tenants."""
        async with svc.read() as session:
            rows = await service.list_tenants(session, decode_cursor(cursor), limit)
        return paginate(rows, limit, TenantOut.model_validate)

    @router.get("/{tenant_id}", responses=problems(404))
    async def get_tenant(tenant_id: str, who: Admin) -> TenantOut:
        """Get one tenant."""
        async with svc.read() as session:
            return TenantOut.model_validate(await service.get_tenant(session, tenant_id))

    @router.patch("/{tenant_id}", responses=problems(404, 422))
    async def update_tenant(
        tenant_id: str, body: TenantUpdate, request: Request, who: Admin
    ) -> TenantOut:
        """Change a tenant's name, tier, status or settings."""
        async with svc.changing_access(request, who, "tenant.update", "tenant", tenant_id) as (
            s,
            actor,
        ):
            return TenantOut.model_validate(await service.update_tenant(s, actor, tenant_id, body))

    @router.delete("/{tenant_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404))
    async def delete_tenant(tenant_id: str, request: Request, who: Admin) -> None:
        """Delete a tenant: its tokens stop working at once and its id stays reserved."""
        async with svc.changing_access(request, who, "tenant.delete", "tenant", tenant_id) as (
            s,
            actor,
        ):
            await service.delete_tenant(s, actor, tenant_id)

    return router
