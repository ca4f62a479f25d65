"""Records a source pushes one at a time (SCIM): correlated and merged like any other source's.

A pushed record is a *statement*: every identity column, and `attributes` with the keys the
source owns, where None means "no value" (so a replacement can clear what the source set).
Creating one links it to the identity the tenant's correlation rules find, or creates one;
replacing or patching one merges it by precedence. What the source loses is a conflict.

A source describes an identity at most once: an identity another record of the same source
already describes is never a match (two IdP accounts sharing a mailbox stay two identities).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    CompoundSelect,
    String,
    Text,
    bindparam,
    cast,
    exists,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.identity import service
from gatehouse.identity.correlation import (
    DEFAULT_RULES,
    MATCHABLE,
    merge_into,
    policy_for,
    policy_of,
    rule_column,
)
from gatehouse.identity.merge import Nulls, Policy, initial_provenance
from gatehouse.identity.models import Conflict, Identity, IdentityLink
from gatehouse.identity.rows import rule_value
from gatehouse.identity.schemas import IdentityData
from gatehouse.kit.problems import Problem
from gatehouse.tenants.models import Tenant

Statement = dict[str, Any]
LINK, OWNER, SETTINGS = "=link", "=owner", "=settings"  # look-up rows that are not rules
RULE_NAMES = {
    "employee_number": "employeeNumber",
    "email": "email",
    "user_name": "userName",
    "external_id": "externalId",
}


class AmbiguousMatch(Problem):
    """A pushed record matches several identities: nothing is written; the conflict is kept."""

    def __init__(self, conflict: Conflict, rule: str, count: int) -> None:
        super().__init__(
            409,
            f"This user matches {count} identities by {RULE_NAMES.get(rule, rule)}, so Gatehouse "
            "cannot tell which one it is and created nothing (an `ambiguous` conflict is kept for "
            "review). Resolve the duplicates or change the tenant's correlation rules, then retry.",
            scim_type="uniqueness",
        )
        self.conflict = conflict


async def provision(
    session: AsyncSession, actor: Actor, source: str, statement: Statement
) -> Identity:
    """Create a pushed record: link it to the identity the rules find, or create one."""
    tenant = actor.tenant_id
    found = await _look_up(session, tenant, source, statement)
    external_id = statement.get("external_id")
    if found.linked is not None:
        raise Problem(
            409,
            f"externalId {external_id!r} is already provisioned (user {found.linked}); "
            "update that user instead of creating it again.",
            scim_type="uniqueness",
        )
    policy = policy_of(found.settings)
    match = None
    for rule in policy.rules:
        candidates = found.matches.get(rule, [])
        if len(candidates) > 1:
            raise AmbiguousMatch(_ambiguous(tenant, source, statement), rule, len(candidates))
        if candidates:
            match = candidates[0]
            break
    if match is None:
        if found.owner is not None:
            raise service.user_name_taken(str(statement["user_name"]))
        return await _create(session, actor, source, statement)
    await service.link(session, tenant, source, external_id or match, match)
    identity = await service.get_identity(session, tenant, match)
    return await _merge(session, actor, policy, source, identity, statement, Nulls.RETRACTED)


async def restate(
    session: AsyncSession,
    actor: Actor,
    source: str,
    identity: Identity,
    statement: Statement,
    *,
    expected_version: int | None,
    nulls: Nulls,
) -> Identity:
    """Apply what a source now says about an identity: all of it (a None withdraws what the
    source set: RETRACTED), or what a patch changed (a None is a removal: CLEARED)."""
    provenance = identity.provenance or {}
    if source not in provenance.values():
        # First word from this source about the identity (an IdP that found it by userName).
        await _describe(session, actor.tenant_id, source, identity, statement.get("external_id"))
    if any(holder != source for holder in provenance.values()):
        policy = await policy_for(session, actor.tenant_id)
    else:  # the source holds everything it could state: precedence cannot change the outcome
        policy = Policy(DEFAULT_RULES, {})
    return await _merge(
        session, actor, policy, source, identity, statement, nulls, expected_version
    )


async def _merge(
    session: AsyncSession,
    actor: Actor,
    policy: Policy,
    source: str,
    identity: Identity,
    statement: Statement,
    nulls: Nulls,
    expected_version: int | None = None,
) -> Identity:
    external_id = str(statement.get("external_id") or identity.id)
    changes, conflicts = merge_into(
        identity, policy, source, external_id, statement, skip=frozenset(), nulls=nulls
    )
    session.add_all(conflicts)
    if not changes:
        return identity
    return await service.update_identity(
        session, actor, identity.id, changes, source=source, expected_version=expected_version
    )


async def _create(
    session: AsyncSession, actor: Actor, source: str, statement: Statement
) -> Identity:
    owned = {k: v for k, v in (statement.get("attributes") or {}).items() if v is not None}
    data = IdentityData(**{**statement, "attributes": owned})
    held = initial_provenance(data.model_dump(), source)
    identity = await service.create_identity(
        session, actor, data, source=source, provenance=held, user_name_checked=True
    )
    if not data.external_id:  # linked by its SCIM id, so the source is known to describe it
        session.add(_link(actor.tenant_id, source, identity.id, identity.id))
    return identity


async def _describe(
    session: AsyncSession, tenant: str, source: str, identity: Identity, external_id: Any
) -> None:
    """Link the source to an identity it has not described before."""
    stmt = (
        select(IdentityLink.external_id)
        .where(
            IdentityLink.tenant_id == tenant,
            IdentityLink.source == source,
            IdentityLink.identity_id == identity.id,
        )
        .limit(1)
        .execution_options(**{TENANT: tenant})
    )
    if (await session.execute(stmt)).first() is None:
        await service.link(session, tenant, source, str(external_id or identity.id), identity.id)


@dataclass
class Found:
    """What one look-up learned about a pushed record."""

    settings: dict[str, Any] = field(default_factory=dict)  # the tenant's
    linked: str | None = None  # the live identity its externalId is linked to
    owner: str | None = None  # the identity holding its userName
    matches: dict[str, list[str]] = field(default_factory=dict)  # rule → (up to two) identities


async def _look_up(session: AsyncSession, tenant: str, source: str, statement: Statement) -> Found:
    """The tenant's settings, the record's link, the holder of its userName, and per rule the
    live identities it matches that the source does not describe yet: one round trip."""
    values: dict[str, Any] = {rule: rule_value(rule, statement) for rule in MATCHABLE}
    link = statement.get("external_id")
    params = {"tenant": tenant, "source": source, "link": str(link) if link else None, **values}
    rows = await session.execute(_look_up_statement(), params, execution_options={TENANT: tenant})
    out = Found()
    for kind, value in rows.all():
        if kind == SETTINGS:
            out.settings = orjson.loads(value) if value else {}
        elif kind == LINK:
            out.linked = value
        elif kind == OWNER:
            out.owner = value
        else:
            out.matches.setdefault(kind, []).append(value)
    return out


@cache
def _look_up_statement() -> CompoundSelect[Any]:
    """The look-up, built once: a value left NULL matches nothing."""
    tenant, source = bindparam("tenant", type_=String), bindparam("source", type_=String)
    described = exists().where(
        IdentityLink.tenant_id == tenant,
        IdentityLink.source == source,
        IdentityLink.identity_id == Identity.id,
    )
    live = (Identity.tenant_id == tenant, Identity.status != "deleted")
    settings = select(literal(SETTINGS), cast(Tenant.settings, Text)).where(Tenant.id == tenant)
    branches = [settings]
    for rule in sorted(MATCHABLE):
        found = select(literal(rule), Identity.id).where(*live, ~described)
        branches.append(found.where(rule_column(rule) == bindparam(rule)).limit(2))
    owner = select(literal(OWNER), Identity.id).where(Identity.tenant_id == tenant)
    branches.append(owner.where(Identity.user_name_key == bindparam("user_name")))
    linked = select(literal(LINK), Identity.id).join(
        IdentityLink, IdentityLink.identity_id == Identity.id
    )
    branches.append(
        linked.where(*live, IdentityLink.tenant_id == tenant, IdentityLink.source == source).where(
            IdentityLink.external_id == bindparam("link")
        )
    )
    return union_all(*(select(*sub.c) for sub in (branch.subquery() for branch in branches)))


def _link(tenant: str, source: str, external_id: str, identity_id: str) -> IdentityLink:
    return IdentityLink(
        tenant_id=tenant, source=source, external_id=external_id, identity_id=identity_id
    )


def _ambiguous(tenant: str, source: str, statement: Statement) -> Conflict:
    return Conflict(
        tenant_id=tenant,
        kind="ambiguous",
        source=source,
        external_id=str(statement.get("external_id") or ""),
        offered=statement,
    )
