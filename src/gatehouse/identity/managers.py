"""Managers named by a source's own ids, resolved once all of a run's people are written.

A mapping may target `manager` with the source's id for the person's manager (a `manager_id`
column, an LDAP manager resolved to the manager's entry id). Ingestion keeps that reference on
the source's link (`identity_links.manager_ref`); `resolve_managers` then turns every
reference of the source into the manager's identity, by the same links, and sets
`manager_id` through precedence like any other value: a change is versioned and announced
(`identity.updated`), a value that loses is a conflict. A reference that names no person of the
source is reported, never fatal. A source that says a person has no manager ("") withdraws the
manager it set itself, not one another source set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.identity import rows as db
from gatehouse.identity.conflict_rows import conflict_row, insert_conflicts
from gatehouse.identity.merge import Nulls, Policy, merge
from gatehouse.identity.rescore import rescore_members

FIELD = "manager_id"


def ref_row(tenant: str, source: str, external_id: str, ref: str) -> dict[str, Any]:
    """A new manager reference of an identity link, for `update_many`."""
    return {"tenant_id": tenant, "source": source, "external_id": external_id, "manager_ref": ref}


async def manager_refs(
    session: AsyncSession, tenant: str, source: str, external_ids: Sequence[str]
) -> dict[str, str | None]:
    """The manager reference each of these links of `source` holds."""
    found: dict[str, str | None] = {}
    for part in db.chunks(sorted(external_ids)):
        stmt = select(db.LINKS.c.external_id, db.LINKS.c.manager_ref).where(
            db.LINKS.c.tenant_id == tenant,
            db.LINKS.c.source == source,
            db.LINKS.c.external_id.in_(part),
        )
        found.update((e, r) for e, r in (await db.run(session, tenant, stmt)).all())
    return found


@dataclass
class ManagerReport:
    """What resolving a source's manager references did (or, on a dry run, would do)."""

    changed: int = 0
    conflicts: int = 0
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (external id, reference)


def _pending(tenant: str, source: str) -> Any:
    """Links of `source` whose reference is not what their identity's manager is."""
    link, boss = db.LINKS.alias("link"), db.LINKS.alias("boss")
    person, manager = db.IDENTITIES.alias("person"), db.IDENTITIES.alias("manager")
    resolved = boss.c.identity_id
    return (
        select(
            link.c.external_id,
            link.c.identity_id,
            link.c.manager_ref,
            resolved.label("resolved"),
            manager.c.status.label("manager_status"),
        )
        .select_from(
            link.join(
                person,
                and_(person.c.tenant_id == link.c.tenant_id, person.c.id == link.c.identity_id),
            )
            .outerjoin(
                boss,
                and_(
                    boss.c.tenant_id == link.c.tenant_id,
                    boss.c.source == link.c.source,
                    boss.c.external_id == link.c.manager_ref,
                ),
            )
            .outerjoin(
                manager, and_(manager.c.tenant_id == link.c.tenant_id, manager.c.id == resolved)
            )
        )
        .where(
            link.c.tenant_id == tenant,
            link.c.source == source,
            link.c.manager_ref.is_not(None),
            person.c.status != "deleted",
            or_(
                and_(link.c.manager_ref == "", person.c.manager_id.is_not(None)),
                and_(
                    link.c.manager_ref != "",
                    or_(
                        resolved.is_(None),
                        manager.c.status == "deleted",
                        person.c.manager_id.is_(None),
                        person.c.manager_id != resolved,
                    ),
                ),
            ),
        )
    )


async def resolve_managers(
    session: AsyncSession,
    actor: Actor,
    source: str,
    policy: Policy,
    *,
    rescore: dict[str, str] | None = None,
) -> ManagerReport:
    """Set each identity's manager from its `source` link's reference (set-wise statements).

    With `rescore`, changed identities are added to it for the caller to score once later.
    """
    tenant, report, now = actor.tenant_id, ManagerReport(), datetime.now(UTC)
    wanted: dict[str, str | None] = {}  # identity id → manager id (None: the source has none)
    exts: dict[str, str] = {}  # identity id → the source's id for the person
    for ext, ident, ref, resolved, status in (
        await db.run(session, tenant, _pending(tenant, source))
    ).all():
        exts[ident] = ext
        if ref == "":
            wanted[ident] = None
        elif resolved is None or status == "deleted":
            report.unresolved.append((ext, ref))
        elif resolved != ident:  # naming oneself (the top of the tree) sets nothing
            wanted[ident] = resolved
    if not wanted:
        return report
    current = await db.identity_rows(session, tenant, wanted)
    changed: list[dict[str, Any]] = []
    befores: dict[str, dict[str, Any]] = {}
    conflicts: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []  # provenance moved, value kept: no new version
    for ident, manager in wanted.items():
        row = current[ident]
        merged = merge(
            row,
            row["provenance"] or {},
            policy,
            source,
            {FIELD: manager},
            nulls=Nulls.RETRACTED,
        )
        conflicts += [
            conflict_row(
                tenant,
                "precedence",
                ident,
                FIELD,
                source,
                exts[ident],
                lost.offered,
                lost.kept_source,
                lost.kept,
            )
            for lost in merged.losers
        ]
        if merged.changes:
            befores[ident] = db.snapshot(row)
            row.update(merged.changes, provenance=merged.provenance, updated_at=now)
            row["version"] += 1
            changed.append(row)
        elif merged.provenance_changed:
            row["provenance"] = merged.provenance
            moved.append(row)
    await db.update_identities(session, changed + moved)
    await db.record_identity_changes(
        session,
        tenant,
        actor.actor,
        source,
        now,
        [(befores[r["id"]], r) for r in changed],
        {r["id"]: r["risk_score"] for r in changed},  # rescored below or by the caller
    )
    await insert_conflicts(session, tenant, conflicts)
    report.changed, report.conflicts = len(changed), len(conflicts)
    scored = dict.fromkeys((r["id"] for r in changed), "identity")
    if rescore is None:
        await rescore_members(session, tenant, scored)
    else:
        rescore.update(scored)
    if changed:
        await audit.record(
            session,
            actor,
            "identity.managers_resolved",
            "source",
            source,
            after={"changed": len(changed), "unresolved": len(report.unresolved)},
        )
    return report
