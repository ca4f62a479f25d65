"""API token routes: /v1/integration/tokens."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from gatehouse.auth import service
from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.auth.schemas import (
    CurrentTokenOut,
    ScopeOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    TokenUpdate,
    UsageOut,
)
from gatehouse.auth.scopes import CATALOG
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.services import Services


def build_router(svc: Services) -> APIRouter:
    """Routes under /v1/integration/tokens."""
    router = APIRouter(prefix="/v1/integration/tokens", tags=["tokens"])
    Reader = Annotated[Principal, Depends(authenticator(svc, "tokens:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "tokens:write"))]
    Anyone = Annotated[Principal, Depends(authenticator(svc, None))]

    @router.post("", status_code=status.HTTP_201_CREATED, responses=problems(422))
    async def create_token(
        body: TokenCreate, request: Request, response: Response, who: Writer
    ) -> TokenCreated:
        """Create a token; the response is the only time its secret is shown."""
        async with svc.write(request, who, "token.create", "token", "") as (s, actor):
            token, secret = await service.create_token(
                s,
                actor,
                who.tenant_id,
                body,
                granted_by=who.scopes,
                default_days=svc.settings.token_default_expiry_days,
                tier_limit=svc.tier_limit(who.tier),
                parent=who,
            )
            out = TokenCreated(**TokenOut.model_validate(token).model_dump(), token=secret)
        response.headers["Location"] = f"/v1/integration/tokens/{out.id}"
        response.headers["Cache-Control"] = "no-store"
        return out

    @router.get("", responses=problems(400))
    async def list_tokens(
        who: Reader,
        cursor: Cursor = None,
        limit: Limit = 100,
        include_revoked: Annotated[bool, Query(description="Also list revoked tokens.")] = False,
    ) -> Page[TokenOut]:
        """List the tenant's tokens (never their secrets)."""
        async with svc.read() as session:
            rows = await service.list_tokens(
                session, who.tenant_id, decode_cursor(cursor), limit, include_revoked
            )
        return paginate(rows, limit, TokenOut.model_validate)

    catalog = [
        ScopeOut(name=s.name, description=s.description, platform=s.platform) for s in CATALOG
    ]

    @router.get("/scopes")
    async def list_scopes(who: Reader) -> list[ScopeOut]:
        """List every scope a token can carry."""
        return catalog

    @router.get("/current")
    async def current_token(who: Anyone) -> CurrentTokenOut:
        """Describe the token making this request (any valid token may ask)."""
        return CurrentTokenOut(
            token_id=who.token_id,
            tenant_id=who.tenant_id,
            scopes=sorted(who.scopes),
            expires_at=who.expires_at,
            rate_limit_per_minute=who.rate_limit,
        )

    @router.get("/usage-logs", responses=problems(400))
    async def usage_logs(
        who: Reader,
        token_id: Annotated[str | None, Query(description="Only this token's requests.")] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[UsageOut]:
        """List logged requests made with the tenant's tokens, oldest first."""
        async with svc.read() as session:
            rows = await service.list_usage(
                session, who.tenant_id, token_id, decode_cursor(cursor), limit
            )
        return paginate(rows, limit, UsageOut.model_validate)

    @router.get("/{token_id}", responses=problems(404))
    async def get_token(token_id: str, who: Reader) -> TokenOut:
        """Get one token."""
        async with svc.read() as session:
            return TokenOut.model_validate(
                await service.get_token(session, who.tenant_id, token_id)
            )

    @router.get("/{token_id}/scopes", responses=problems(404))
    async def token_scopes(token_id: str, who: Reader) -> list[str]:
        """List the scopes one token carries."""
        async with svc.read() as session:
            return list((await service.get_token(session, who.tenant_id, token_id)).scopes)

    @router.patch("/{token_id}", responses=problems(404, 409, 422))
    async def update_token(
        token_id: str, body: TokenUpdate, request: Request, who: Writer
    ) -> TokenOut:
        """Change a token's name, description, scopes or rate limit."""
        async with svc.changing_access(request, who, "token.update", "token", token_id) as (
            s,
            actor,
        ):
            token = await service.update_token(
                s,
                actor,
                who.tenant_id,
                token_id,
                body,
                granted_by=who.scopes,
                tier_limit=svc.tier_limit(who.tier),
                caller=who,
            )
            return TokenOut.model_validate(token)

    @router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404))
    async def revoke_token(token_id: str, request: Request, who: Writer) -> None:
        """Revoke a token; it is refused from the next request on."""
        async with svc.changing_access(request, who, "token.revoke", "token", token_id) as (
            s,
            actor,
        ):
            await service.revoke_token(s, actor, who.tenant_id, token_id, granted_by=who.scopes)

    return router
