"""The FastAPI dependency that authenticates a request, checks its scope and rate limits it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from fastapi import Request

from gatehouse.auth import service
from gatehouse.auth.principal import Principal
from gatehouse.auth.scopes import grants
from gatehouse.kit.crypto import sha256_hex
from gatehouse.kit.problems import Problem
from gatehouse.ratelimit.limiter import headers
from gatehouse.services import Services

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def presented_token(request: Request) -> str:
    """The bearer token of a request, or a 401 saying how to send one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise service.unauthorized("Send an API token as `Authorization: Bearer gth_...`.")
    return token.strip()


def authenticator(
    svc: Services, scope: str | None, *alternatives: str
) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only tokens granting `scope` or one of `alternatives` (any
    valid token when `scope` is None)."""
    accepted = (scope, *alternatives) if scope is not None else ()
    lacks = f"This token lacks the scope {scope!r}" + "".join(f" (or {a!r})" for a in alternatives)

    async def authenticate(request: Request) -> Principal:
        presented = presented_token(request)
        # Only tokens that passed the format check and the store are cached, so a hit needs
        # neither; a miss checks both (service.authenticate).
        digest = sha256_hex(presented)

        async def from_store() -> Principal:
            async with svc.read() as session:
                return await service.authenticate(session, presented)

        principal = await svc.principals.fetch(digest, from_store)
        request.state.principal = principal
        structlog.contextvars.bind_contextvars(tenant=principal.tenant_id)
        if scope is not None and not any(grants(principal.scopes, s) for s in accepted):
            if request.method not in SAFE_METHODS:
                await svc.audit_denied(request, principal, scope)
            raise Problem(403, lacks + ".", required_scope=scope)
        # Added to the response by the request middleware, whatever the handler returns.
        request.state.response_headers = await charge(svc, principal)
        return principal

    return authenticate


async def charge(svc: Services, principal: Principal, cost: int = 1) -> dict[str, str]:
    """Count `cost` requests against the tenant's (and the token's own) budget: the rate-limit
    headers, or 429 when a budget is spent."""
    tier_limit = svc.tier_limit(principal.tier)
    budgets = [await svc.limiter.hit("tenant", principal.tenant_id, tier_limit, cost)]
    if principal.rate_limit is not None:
        # Without a budget of its own a token can never outrun its tenant's: no second count.
        budgets.append(
            await svc.limiter.hit("token", principal.token_id, principal.rate_limit, cost)
        )
    limit_headers = headers(budgets)
    for refused in (b for b in budgets if not b.allowed):
        svc.metrics.rate_limited.labels(refused.name).inc()
        detail = (
            f"The {refused.name} budget of {refused.limit} requests per minute is spent; "
            f"retry in {refused.reset_seconds}s."
        )
        if cost > refused.limit:
            detail = (
                f"This request counts as {cost} requests (one per operation), more than the "
                f"{refused.name} budget of {refused.limit} per minute: send fewer operations."
            )
        raise Problem(
            429, detail, headers={**limit_headers, "Retry-After": str(refused.reset_seconds)}
        )
    return limit_headers
