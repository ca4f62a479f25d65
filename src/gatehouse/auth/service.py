"""Token lifecycle: create, list, change, revoke, and authenticate a presented token."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.auth import tokens
from gatehouse.auth.models import ApiToken, TokenUsage
from gatehouse.auth.principal import Principal
from gatehouse.auth.schemas import TokenCreate, TokenUpdate
from gatehouse.auth.scopes import PLATFORM_GRANTABLE, PLATFORM_SCOPES, covers
from gatehouse.db.repository import TenantRepository
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.events.service import emit
from gatehouse.kit.crypto import sha256_hex
from gatehouse.kit.problems import Problem, not_found
from gatehouse.tenants.models import PLATFORM, Tenant


class TokenRepository(TenantRepository[ApiToken]):
    """One tenant's tokens."""

    model = ApiToken


class UsageRepository(TenantRepository[TokenUsage]):
    """One tenant's token usage log."""

    model = TokenUsage


def snapshot(token: ApiToken) -> dict[str, Any]:
    """The audited view of a token (no hash, no secret)."""
    return {
        "name": token.name,
        "scopes": list(token.scopes),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "rate_limit_per_minute": token.rate_limit_per_minute,
    }


def _announced(token: ApiToken) -> dict[str, Any]:
    """What `token.*` events say about a token: never its secret, hash or prefix."""
    return {
        "id": token.id,
        "name": token.name,
        "scopes": list(token.scopes),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


def _check_grant(tenant_id: str, scopes: list[str], granted_by: frozenset[str] | None) -> None:
    platform = set(scopes) & PLATFORM_SCOPES
    if tenant_id == PLATFORM and set(scopes) - PLATFORM_GRANTABLE:
        allowed = ", ".join(sorted(PLATFORM_GRANTABLE))
        raise Problem(422, f"Platform tokens carry only these scopes: {allowed}.")
    if tenant_id != PLATFORM and platform:
        raise Problem(422, f"Scopes {sorted(platform)} are for platform tokens only.")
    if granted_by is not None and not covers(granted_by, scopes):
        raise Problem(403, "A token can only grant scopes it holds itself.")


def _check_control(token: ApiToken, granted_by: frozenset[str] | None) -> None:
    if granted_by is not None and not covers(granted_by, list(token.scopes)):
        raise Problem(403, "A token can only change or revoke tokens whose scopes it holds.")


def _check_budget(wanted: int | None, tier_limit: int, parent: Principal | None) -> None:
    if wanted is None:
        return
    if wanted > tier_limit:
        raise Problem(422, f"rate_limit_per_minute may be at most the tier's {tier_limit}.")
    if parent is not None and parent.rate_limit is not None and wanted > parent.rate_limit:
        raise Problem(
            403,
            f"rate_limit_per_minute may be at most this token's own {parent.rate_limit}.",
        )


def _child_expiry(days: int, parent: Principal | None) -> datetime:
    """Now plus `days`, but never past the minting token's own expiry."""
    wanted = datetime.now(UTC) + timedelta(days=days)
    if parent is not None and parent.expires_at is not None:
        return min(wanted, parent.expires_at)
    return wanted


async def create_token(
    session: AsyncSession,
    actor: Actor,
    tenant_id: str,
    data: TokenCreate,
    *,
    granted_by: frozenset[str] | None,
    default_days: int,
    tier_limit: int,
    parent: Principal | None = None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret (the only time the secret exists).

    A token minted by another (`parent`) expires no later than it, is revoked with it, and has
    a budget no larger than its own (its parent's when none is asked for)."""
    _check_grant(tenant_id, data.scopes, granted_by)
    rate_limit = data.rate_limit_per_minute
    if rate_limit is None and parent is not None:
        rate_limit = parent.rate_limit
    _check_budget(rate_limit, tier_limit, parent)
    secret = tokens.generate()
    days = data.expires_in_days or default_days
    token = TokenRepository(session, tenant_id).add(
        ApiToken(
            name=data.name,
            description=data.description,
            prefix=tokens.display_prefix(secret),
            token_hash=sha256_hex(secret),
            scopes=data.scopes,
            created_by=actor.actor,
            expires_at=_child_expiry(days, parent),
            rate_limit_per_minute=rate_limit,
            parent_id=parent.token_id if parent is not None else None,
        )
    )
    await session.flush()
    await audit.record(session, actor, "token.create", "token", token.id, after=snapshot(token))
    made = {
        **_announced(token),
        "created_by": actor.actor,
        "rate_limit_per_minute": token.rate_limit_per_minute,
    }
    emit(session, tenant_id, "token.created", "token", token.id, made)
    return token, secret


async def get_token(session: AsyncSession, tenant_id: str, token_id: str) -> ApiToken:
    """One of the tenant's tokens, or 404."""
    token = await TokenRepository(session, tenant_id).get(token_id)
    if token is None:
        raise not_found("token", token_id)
    return token


async def list_tokens(
    session: AsyncSession, tenant_id: str, after: Any, limit: int, include_revoked: bool
) -> Sequence[ApiToken]:
    """A page of the tenant's tokens, oldest first."""
    repo = TokenRepository(session, tenant_id)
    stmt = repo.select()
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    return await repo.page(stmt, after, limit)


async def update_token(
    session: AsyncSession,
    actor: Actor,
    tenant_id: str,
    token_id: str,
    data: TokenUpdate,
    *,
    granted_by: frozenset[str] | None,
    tier_limit: int,
    caller: Principal | None = None,
) -> ApiToken:
    """Change a token's name, description, scopes or budget (never above the caller's own)."""
    token = await get_token(session, tenant_id, token_id)
    _check_control(token, granted_by)
    if token.revoked_at is not None:
        raise Problem(409, "The token is revoked; create a new one instead.")
    before = snapshot(token)
    if data.scopes is not None:
        _check_grant(tenant_id, data.scopes, granted_by)
        token.scopes = data.scopes
    if data.rate_limit_per_minute is not None:
        _check_budget(data.rate_limit_per_minute, tier_limit, caller)
        token.rate_limit_per_minute = data.rate_limit_per_minute
    if data.name is not None:
        token.name = data.name
    if data.description is not None:
        token.description = data.description
    await session.flush()
    after = snapshot(token)
    await audit.record(
        session, actor, "token.update", "token", token.id, before=before, after=after
    )
    return token


async def revoke_token(
    session: AsyncSession,
    actor: Actor,
    tenant_id: str,
    token_id: str,
    *,
    granted_by: frozenset[str] | None = None,
) -> ApiToken:
    """Revoke a token and every token it minted, transitively; they stop with the next request."""
    token = await get_token(session, tenant_id, token_id)
    _check_control(token, granted_by)
    await _revoke(session, actor, tenant_id, token, None)
    for child, parent in await _descendants(session, tenant_id, token.id):
        await _revoke(session, actor, tenant_id, child, parent)
    return token


async def _descendants(
    session: AsyncSession, tenant_id: str, root: str
) -> list[tuple[ApiToken, str]]:
    """Every token minted from `root`, directly or not, with its parent's id, parents first."""
    repo = TokenRepository(session, tenant_id)
    found: list[tuple[ApiToken, str]] = []
    seen = {root}
    frontier = [root]
    while frontier:
        stmt = repo.select().where(ApiToken.parent_id.in_(frontier)).order_by(ApiToken.id)
        children = [t for t in (await session.execute(stmt)).scalars() if t.id not in seen]
        seen.update(t.id for t in children)
        found.extend((t, str(t.parent_id)) for t in children)
        frontier = [t.id for t in children]
    return found


async def _revoke(
    session: AsyncSession, actor: Actor, tenant_id: str, token: ApiToken, parent: str | None
) -> None:
    if token.revoked_at is not None:
        return
    before = snapshot(token)
    token.revoked_at = datetime.now(UTC)
    await session.flush()
    after = {**snapshot(token), **({"revoked_with": parent} if parent else {})}
    await audit.record(
        session, actor, "token.revoke", "token", token.id, before=before, after=after
    )
    gone = {
        **_announced(token),
        "revoked_at": token.revoked_at.isoformat(),
        "revoked_by": actor.actor,
    }
    emit(session, tenant_id, "token.revoked", "token", token.id, gone)


async def revoke_all(session: AsyncSession, actor: Actor, tenant_id: str) -> int:
    """Revoke every live token of a tenant; returns how many."""
    repo = TokenRepository(session, tenant_id)
    live = (await session.execute(repo.select().where(ApiToken.revoked_at.is_(None)))).scalars()
    count = 0
    for token in live.all():
        if token.revoked_at is None:
            await revoke_token(session, actor, tenant_id, token.id)
        count += 1
    return count


def token_hash(presented: str) -> str:
    """The stored form of a presented token, after the offline format check (401 if it fails)."""
    if not tokens.well_formed(presented):
        raise unauthorized("The token is malformed or its checksum is wrong.")
    return sha256_hex(presented)


async def authenticate(session: AsyncSession, presented: str) -> Principal:
    """The principal a presented token stands for, or a 401/403 Problem saying why not."""
    digest = token_hash(presented)
    stmt = (
        select(ApiToken, Tenant.tier, Tenant.status)
        .outerjoin(Tenant, Tenant.id == ApiToken.tenant_id)
        .where(ApiToken.token_hash == digest)
        .execution_options(**{ALL_TENANTS: True})
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise unauthorized("The token is not recognised.")
    token, tier, status = row
    now = datetime.now(UTC)
    if token.revoked_at is not None:
        raise unauthorized("The token was revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise unauthorized("The token has expired; create a new one.")
    if await _ancestor_gone(session, token, now):
        raise unauthorized("The token that minted this one was revoked or has expired.")
    if token.tenant_id != PLATFORM and status != "active":
        raise Problem(403, f"Tenant {token.tenant_id!r} is {status or 'gone'}.")
    return Principal(
        token_id=token.id,
        tenant_id=token.tenant_id,
        scopes=frozenset(token.scopes),
        tier="platform" if token.tenant_id == PLATFORM else tier,
        rate_limit=token.rate_limit_per_minute,
        expires_at=token.expires_at,
    )


async def _ancestor_gone(session: AsyncSession, token: ApiToken, now: datetime) -> bool:
    """Whether any token up the minting chain is revoked or expired (one recursive query)."""
    if token.parent_id is None:
        return False
    t = aliased(ApiToken)
    up = (
        select(ApiToken.id, ApiToken.parent_id, ApiToken.revoked_at, ApiToken.expires_at)
        .where(ApiToken.tenant_id == token.tenant_id, ApiToken.id == token.parent_id)
        .cte("ancestors", recursive=True)
    )
    up = up.union(
        select(t.id, t.parent_id, t.revoked_at, t.expires_at)
        .join(up, t.id == up.c.parent_id)
        .where(t.tenant_id == token.tenant_id)
    )
    stmt = select(up.c.revoked_at, up.c.expires_at).execution_options(**{ALL_TENANTS: True})
    for revoked_at, expires_at in (await session.execute(stmt)).all():
        if revoked_at is not None or (expires_at is not None and expires_at <= now):
            return True
    return False


def unauthorized(detail: str) -> Problem:
    """A 401 that tells the client how to authenticate."""
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="gatehouse"'})


async def list_usage(
    session: AsyncSession, tenant_id: str, token_id: str | None, after: Any, limit: int
) -> Sequence[TokenUsage]:
    """A page of the tenant's usage log, oldest first, optionally for one token."""
    repo = UsageRepository(session, tenant_id)
    stmt = repo.select()
    if token_id:
        stmt = stmt.where(TokenUsage.token_id == token_id)
    return await repo.page(stmt, after, limit)
