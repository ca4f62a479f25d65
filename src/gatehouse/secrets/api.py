"""Secret routes: /v1/secrets. Values go in and never come out."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.kit.problems import Problem
from gatehouse.secrets import service
from gatehouse.secrets.models import Secret
from gatehouse.secrets.schemas import NAME, SecretOut, SecretPut
from gatehouse.services import Services

Name = Annotated[str, Path(pattern=NAME, description="Secret name, unique in the tenant.")]


def build_router(svc: Services) -> APIRouter:
    """Routes under /v1/secrets."""
    router = APIRouter(prefix="/v1/secrets", tags=["secrets"])
    Reader = Annotated[Principal, Depends(authenticator(svc, "secrets:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "secrets:write"))]

    def out(secret: Secret) -> SecretOut:
        return SecretOut(
            id=secret.id,
            name=secret.name,
            description=secret.description,
            key_id=svc.keys.key_of(secret.ciphertext),
            created_by=secret.created_by,
            created_at=secret.created_at,
            updated_at=secret.updated_at,
        )

    @router.put(
        "/{name}",
        responses={201: {"model": SecretOut, "description": "Created."}, **problems(422)},
    )
    async def put_secret(
        name: Name, body: SecretPut, request: Request, response: Response, who: Writer
    ) -> SecretOut:
        """Create or replace a secret (201 when created, 200 when replaced)."""
        async with svc.write(request, who, "secret.put", "secret", name) as (s, actor):
            secret, created = await service.put(
                s, svc.keys, actor, name, body.value.get_secret_value(), body.description
            )
            result = out(secret)
        response.status_code = 201 if created else 200
        return result

    @router.get("", responses=problems(400))
    async def list_secrets(
        who: Reader, cursor: Cursor = None, limit: Limit = 100
    ) -> Page[SecretOut]:
        """List the tenant's secrets (names and metadata, never values)."""
        async with svc.read() as session:
            rows = await service.listing(session, who.tenant_id, decode_cursor(cursor), limit)
        return paginate(rows, limit, out)

    @router.get("/{name}", responses=problems(404))
    async def get_secret(name: Name, who: Reader) -> SecretOut:
        """Get a secret's metadata."""
        async with svc.read() as session:
            secret = await service.find(session, who.tenant_id, name)
        if secret is None:
            raise Problem(404, f"No secret named {name!r} in this tenant.")
        return out(secret)

    @router.delete("/{name}", status_code=204, responses=problems(404))
    async def delete_secret(name: Name, request: Request, who: Writer) -> None:
        """Delete a secret."""
        async with svc.write(request, who, "secret.delete", "secret", name) as (s, actor):
            await service.remove(s, actor, name)

    return router
