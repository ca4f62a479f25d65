"""Deletion detection after a full run: what the source no longer describes leaves the store.

A record not seen by a complete full run loses its link to that source. An identity, group or
resource is soft-deleted when the source that created it stops describing it and no other source
still links to it; a membership the source stated goes when the run did not state it again. A safety
threshold refuses to remove more than a share of a source's records unless confirmed, so a
source that wrongly returns nothing cannot empty the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.identity import rows as db
from gatehouse.identity.groups import delete_group
from gatehouse.identity.ingest_groups import GROUP_LINKS, GROUPS, MEMBERSHIPS, membership_changed
from gatehouse.identity.ingest_resources import RESOURCE_LINKS, RESOURCES, delete_resources
from gatehouse.identity.service import delete_identity


class SafetyThresholdExceeded(Exception):
    """A full run would remove more than the allowed share of a source's records."""

    def __init__(self, kind: str, unseen: int, total: int, limit: float) -> None:
        super().__init__(
            f"the run would remove {unseen} of {total} {kind} records from this source "
            f"({unseen / total:.0%}, over the {limit:.0%} safety threshold); check the source, "
            "then confirm the deletion to go ahead"
        )
        self.kind, self.unseen, self.total, self.limit = kind, unseen, total, limit


# Each kind of record: its links table and the column naming the record, and its own table.
KINDS: tuple[tuple[str, Table, str, Table], ...] = (
    ("identity", db.LINKS, "identity_id", db.IDENTITIES),
    ("group", GROUP_LINKS, "group_id", GROUPS),
    ("resource", RESOURCE_LINKS, "resource_id", RESOURCES),
)


def _zeros() -> dict[str, int]:
    return dict.fromkeys((kind for kind, *_ in KINDS), 0)


@dataclass
class Removal:
    """What deletion detection removed (or, on a dry run, would remove)."""

    unlinked: dict[str, int] = field(default_factory=_zeros)
    deleted: dict[str, int] = field(default_factory=_zeros)
    memberships: int = 0


def _unseen(table: Table, tenant: str, source: str, run_id: str) -> Any:
    c = table.c
    return (
        c.tenant_id == tenant,
        c.source == source,
        or_(c.seen_run.is_(None), c.seen_run != run_id),
    )


async def _check(
    session: AsyncSession,
    table: Table,
    kind: str,
    tenant: str,
    source: str,
    unseen: int,
    limit: float,
) -> None:
    if not unseen:
        return
    total_stmt = (
        select(func.count())
        .select_from(table)
        .where(table.c.tenant_id == tenant, table.c.source == source)
    )
    total = int((await db.run(session, tenant, total_stmt)).scalar_one())
    if unseen / total > limit:
        raise SafetyThresholdExceeded(kind, unseen, total, limit)


async def remove_unseen(
    session: AsyncSession,
    actor: Actor,
    source: str,
    run_id: str,
    *,
    max_fraction: float,
    confirmed: bool = False,
    dry_run: bool = False,
) -> Removal:
    """Unlink and delete what the completed full run `run_id` did not see."""
    tenant, removal = actor.tenant_id, Removal()
    limit = 1.0 if confirmed else max_fraction
    plans: list[tuple[str, Table, str, Table, dict[str, str]]] = []
    for kind, table, target, records in KINDS:
        stmt = select(table.c.external_id, table.c[target]).where(
            *_unseen(table, tenant, source, run_id)
        )
        stale = {e: i for e, i in (await db.run(session, tenant, stmt)).all()}
        await _check(session, table, kind, tenant, source, len(stale), limit)
        plans.append((kind, table, target, records, stale))
    m = MEMBERSHIPS.c
    stmt = select(m.group_id, m.member_id, m.member_type).where(
        *_unseen(MEMBERSHIPS, tenant, source, run_id)
    )
    gone = [
        {"group_id": g, "member_id": i, "member_type": k}
        for g, i, k in (await db.run(session, tenant, stmt)).all()
    ]
    await _check(session, MEMBERSHIPS, "membership", tenant, source, len(gone), limit)
    removal.memberships = len(gone)
    for kind, *_, stale in plans:
        removal.unlinked[kind] = len(stale)
    if dry_run:
        return removal
    if gone:
        await db.run(
            session,
            tenant,
            delete(MEMBERSHIPS).where(*_unseen(MEMBERSHIPS, tenant, source, run_id)),
        )
        await membership_changed(
            session, actor, source, "membership.removed", gone, datetime.now(UTC)
        )
    for kind, table, target, records, stale in plans:
        if not stale:
            continue
        await db.run(session, tenant, delete(table).where(*_unseen(table, tenant, source, run_id)))
        orphans = await _orphans_created_by(
            session, tenant, (kind, table, target, records), source, stale
        )
        if kind == "resource":
            await delete_resources(session, actor, orphans, source=source)
        else:
            remove = delete_identity if kind == "identity" else delete_group
            for record_id in orphans:
                await remove(session, actor, record_id, source=source)
        removal.deleted[kind] = len(orphans)
    return removal


async def _orphans_created_by(
    session: AsyncSession,
    tenant: str,
    plan: tuple[str, Table, str, Table],
    source: str,
    stale: dict[str, str],
) -> list[str]:
    """The records among `stale` that `source` created and that no source links any more."""
    kind, table, target, live = plan
    ids = sorted(set(stale.values()))
    still: set[str] = set()
    created: set[str] = set()
    alive: set[str] = set()
    v = db.VERSIONS.c
    for part in db.chunks(ids):
        linked = select(table.c[target]).where(
            table.c.tenant_id == tenant, table.c[target].in_(part)
        )
        still.update((await db.run(session, tenant, linked)).scalars())
        first = select(v.record_id).where(
            v.tenant_id == tenant,
            v.record_type == kind,
            v.version == 1,
            v.source == source,
            v.record_id.in_(part),
        )
        created.update((await db.run(session, tenant, first)).scalars())
        deleted = (
            live.c.status == "deleted" if kind == "identity" else live.c.deleted_at.is_not(None)
        )
        current = select(live.c.id).where(live.c.tenant_id == tenant, live.c.id.in_(part), ~deleted)
        alive.update((await db.run(session, tenant, current)).scalars())
    return [i for i in ids if i in created and i in alive and i not in still]
