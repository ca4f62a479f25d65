"""The FastAPI dependency that authenticates a request, checks its scope and rate limits it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gatehouse.auth import service
from gatehouse.auth.principal import Principal
from gatehouse.auth.scopes import grants
from gatehouse.kit.problems import Problem
from gatehouse.ratelimit.limiter import headers
from gatehouse.services import Services

bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer gth_...`")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def authenticator(svc: Services, scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only tokens granting `scope`, within their rate limits."""

    async def authenticate(
        request: Request, response: Response, credentials: Credentials
    ) -> Principal:
        if credentials is None:
            raise service.unauthorized("Send an API token as `Authorization: Bearer gth_...`.")
        async with svc.read() as session:
            principal = await service.authenticate(session, credentials.credentials)
        request.state.principal = principal
        structlog.contextvars.bind_contextvars(tenant=principal.tenant_id)
        if not grants(principal.scopes, scope):
            if request.method not in SAFE_METHODS:
                await svc.audit_denied(request, principal, scope)
            raise Problem(403, f"This token lacks the scope {scope!r}.", required_scope=scope)
        tier_limit = svc.tier_limit(principal.tier)
        tenant = await svc.limiter.hit("tenant", principal.tenant_id, tier_limit)
        token = await svc.limiter.hit(
            "token", principal.token_id, principal.rate_limit or tier_limit
        )
        limit_headers = headers([tenant, token])
        for refused in (b for b in (tenant, token) if not b.allowed):
            svc.metrics.rate_limited.labels(refused.name).inc()
            raise Problem(
                429,
                f"The {refused.name} budget of {refused.limit} requests per minute is spent; "
                f"retry in {refused.reset_seconds}s.",
                headers={**limit_headers, "Retry-After": str(refused.reset_seconds)},
            )
        response.headers.update(limit_headers)
        return principal

    return authenticate
