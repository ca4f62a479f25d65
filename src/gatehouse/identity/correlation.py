"""Many sources, one person: correlation rules link records to identities, and per-attribute
source precedence decides each value. A value that loses is recorded as a conflict.

Tenant settings (`PATCH /v1/tenants/{id}` with `settings.correlation`):

    {"rules": ["employee_number", "email", "user_name"],
     "precedence": {"department": ["hr", "okta"], "*": ["hr"]}}

`rules` are tried in order; a rule matches when exactly one live identity has the same value
(e-mail and userName compare case-insensitively). `precedence` lists sources from strongest to
weakest per attribute (`*` for every attribute not named); a source not listed ranks below the
listed ones, and among equals the newest write wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.identity import service
from gatehouse.identity.merge import Policy, initial_provenance, merge
from gatehouse.identity.models import Conflict, Identity, IdentityLink
from gatehouse.identity.schemas import IDENTITY_COLUMNS, IdentityData
from gatehouse.tenants.models import Tenant

DEFAULT_RULES = ("employee_number", "email", "user_name")
MATCHABLE = frozenset(DEFAULT_RULES) | {"external_id"}


@dataclass(frozen=True)
class Outcome:
    """What ingesting one source record did."""

    identity_id: str | None
    action: str  # "created", "linked", "updated", "unchanged" or "ambiguous"
    conflicts: int = 0


async def policy_for(session: AsyncSession, tenant_id: str) -> Policy:
    """The tenant's policy, or the defaults."""
    tenant = await session.get(Tenant, tenant_id)
    return policy_of(tenant.settings if tenant else {})


def policy_of(settings: dict[str, Any]) -> Policy:
    """The policy tenant settings describe (defaults for what they leave out)."""
    config = settings.get("correlation", {})
    rules = tuple(r for r in config.get("rules", DEFAULT_RULES) if r in MATCHABLE)
    precedence = {
        k: list(v) for k, v in config.get("precedence", {}).items() if isinstance(v, list)
    }
    return Policy(rules or DEFAULT_RULES, precedence)


async def _linked(session: AsyncSession, tenant: str, source: str, external_id: str) -> str | None:
    stmt = (
        select(IdentityLink.identity_id)
        .where(
            IdentityLink.tenant_id == tenant,
            IdentityLink.source == source,
            IdentityLink.external_id == external_id,
        )
        .execution_options(**{TENANT: tenant})
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def rule_column(rule: str) -> Any:
    """The column a rule compares (e-mail and userName without case)."""
    if rule == "user_name":
        return Identity.user_name_key
    if rule == "email":
        return func.lower(Identity.email)
    return getattr(Identity, rule)


async def _match(
    session: AsyncSession, tenant: str, policy: Policy, record: dict[str, Any]
) -> tuple[str | None, bool]:
    """(identity id, ambiguous) by the first rule that decides."""
    for rule in policy.rules:
        value = record.get(rule)
        if not value:
            continue
        column = rule_column(rule)
        if rule in ("user_name", "email"):
            value = str(value).lower()
        stmt = (
            select(Identity.id)
            .where(Identity.tenant_id == tenant, column == value, Identity.status != "deleted")
            .limit(2)
            .execution_options(**{TENANT: tenant})
        )
        found = (await session.execute(stmt)).scalars().all()
        if len(found) == 1:
            return found[0], False
        if len(found) > 1:
            return None, True
    return None, False


async def ingest(
    session: AsyncSession, actor: Actor, source: str, external_id: str, record: dict[str, Any]
) -> Outcome:
    """Apply one source record to the store: find or create its identity, merge by precedence."""
    tenant = actor.tenant_id
    unknown = set(record) - set(IDENTITY_COLUMNS) - {"attributes"}
    if unknown:
        raise ValueError(f"unknown identity fields {sorted(unknown)}")
    policy = await policy_for(session, tenant)
    identity_id = await _linked(session, tenant, source, external_id)
    action = "updated"
    if identity_id is None:
        identity_id, ambiguous = await _match(session, tenant, policy, record)
        if ambiguous:
            session.add(
                Conflict(
                    tenant_id=tenant,
                    kind="ambiguous",
                    source=source,
                    external_id=external_id,
                    offered=record,
                )
            )
            return Outcome(None, "ambiguous", 1)
        if identity_id is None:
            return await _create(session, actor, source, external_id, record)
        await service.link(session, tenant, source, external_id, identity_id)
        action = "linked"
    identity = await service.get_identity(session, tenant, identity_id)
    changes, conflicts = merge_into(identity, policy, source, external_id, record)
    session.add_all(conflicts)
    if changes:
        await service.update_identity(session, actor, identity.id, changes, source=source)
    elif action == "updated":
        action = "unchanged"
    return Outcome(identity.id, action, len(conflicts))


def merge_into(
    identity: Identity,
    policy: Policy,
    source: str,
    external_id: str,
    record: dict[str, Any],
    **options: Any,
) -> tuple[dict[str, Any], list[Conflict]]:
    """The changes a record wins on an identity (its provenance updated) and what it lost."""
    current = service.snapshot(identity)
    merged = merge(current, identity.provenance or {}, policy, source, record, **options)
    identity.provenance = merged.provenance
    conflicts = [
        Conflict(
            tenant_id=identity.tenant_id,
            kind="precedence",
            identity_id=identity.id,
            attribute=lost.attribute,
            source=source,
            external_id=external_id,
            offered=lost.offered,
            kept_source=lost.kept_source,
            kept=lost.kept,
        )
        for lost in merged.losers
    ]
    return merged.changes, conflicts


async def _create(
    session: AsyncSession, actor: Actor, source: str, external_id: str, record: dict[str, Any]
) -> Outcome:
    user_name = record.get("user_name") or record.get("email") or f"{source}:{external_id}"
    data = IdentityData(**{**record, "user_name": user_name, "external_id": external_id})
    identity = await service.create_identity(session, actor, data, source=source)
    identity.provenance = initial_provenance(record, source)
    return Outcome(identity.id, "created")
