"""Risk scores recomputed set-wise after memberships change (nested groups included)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.bulk import update_many
from gatehouse.identity import rows as db
from gatehouse.identity.graph import member_rows
from gatehouse.identity.risk import score_row

# Marks an identity created and scored as a member of no group: rescored only when a membership
# change of the same batch or run names it (which marks it "identity").
SCORED_BARE = "scored_bare"


async def affected(session: AsyncSession, tenant_id: str, members: Mapping[str, str]) -> set[str]:
    """The identities whose groups moved: identity members, and everyone under group members
    (identities marked SCORED_BARE are not: nothing moved since they were scored)."""
    people = {m for m, kind in members.items() if kind == "identity"}
    for group_id in (m for m, kind in members.items() if kind == "group"):
        found = await member_rows(session, tenant_id, group_id, transitive=True)
        people.update(m for m, kind in found if kind == "identity")
    return people


async def rescore_members(session: AsyncSession, tenant_id: str, members: Mapping[str, str]) -> int:
    """Rescore the identities a membership change affects; returns how many scores moved."""
    return await rescore(session, tenant_id, sorted(await affected(session, tenant_id, members)))


async def rescore(session: AsyncSession, tenant_id: str, ids: list[str]) -> int:
    """Recompute the scores of these identities; store and announce the ones that moved."""
    now, moved, events = datetime.now(UTC), [], []
    for part in db.chunks(ids):
        found = await db.identity_rows(session, tenant_id, part)
        names = await db.group_names(session, tenant_id, list(found))
        for ident, row in found.items():
            if row["status"] == "deleted":
                continue
            total, listed = score_row(row, names.get(ident, []), now)
            if total == row["risk_score"] and listed == (row["risk_factors"] or []):
                continue
            moved.append(
                {"tenant_id": tenant_id, "id": ident, "risk_score": total, "risk_factors": listed}
            )
            payload = {"id": ident, "before": row["risk_score"], "after": total, "factors": listed}
            events.append(
                db.event_row(tenant_id, "identity.risk_changed", "identity", ident, payload, now)
            )
    await update_many(session, db.IDENTITIES, ("tenant_id", "id"), moved)
    await db.insert_rows(session, db.EVENTS, events)
    return len(moved)
