"""The risk scores a sync owes: recorded batch by batch, paid in short transactions at the end.

A run collects the members whose scores its batches moved (identities changed, members whose
groups moved). Each batch also writes the ones it added to `sync_rescore_pending` in its own
transaction, so a resumed run knows exactly what its earlier attempts changed. At the end the
affected identities are rescored `batch` at a time, each batch its own transaction (with the
lease renewal), so other writers (SCIM, usage flushes, webhooks) get the store between batches
even on SQLite, where a write transaction locks the whole database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.engine import Database
from gatehouse.identity import rows as db
from gatehouse.identity.rescore import SCORED_BARE, affected, rescore
from gatehouse.sync.models import PendingRescore

PENDING = db.table_of(PendingRescore)
Renew = Callable[[AsyncSession], Awaitable[None]]


def owed(members: Mapping[str, str], recorded: Mapping[str, str]) -> dict[str, str]:
    """The members in `members` not yet recorded (identities created bare owe nothing)."""
    return {
        m: kind for m, kind in members.items() if kind != SCORED_BARE and recorded.get(m) != kind
    }


async def record(
    session: AsyncSession, tenant: str, run_id: str, members: Mapping[str, str]
) -> None:
    """Write these members as owed by the run, in the caller's transaction."""
    if not members:
        return
    ids = sorted(members)
    for part in db.chunks(ids):  # a kind never changes, but a resumed run may meet its own rows
        stmt = delete(PENDING).where(
            PENDING.c.tenant_id == tenant,
            PENDING.c.run_id == run_id,
            PENDING.c.member_id.in_(part),
        )
        await db.run(session, tenant, stmt)
    rows = [
        {"tenant_id": tenant, "run_id": run_id, "member_id": m, "member_type": members[m]}
        for m in ids
    ]
    await db.insert_rows(session, PENDING, rows)


async def recorded(database: Database, tenant: str, run_id: str) -> dict[str, str]:
    """What earlier attempts of the run recorded as owed."""
    stmt = select(PENDING.c.member_id, PENDING.c.member_type).where(
        PENDING.c.tenant_id == tenant, PENDING.c.run_id == run_id
    )
    async with database.transaction(write=False) as session:
        return {m: kind for m, kind in (await db.run(session, tenant, stmt)).all()}


async def pay(
    database: Database,
    tenant: str,
    run_id: str,
    members: Mapping[str, str],
    *,
    batch: int,
    renew: Renew,
    between: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Rescore everyone `members` affects, `batch` identities per transaction, clearing the
    run's pending rows as they are paid; returns how many scores moved."""
    async with database.transaction(write=False) as session:
        people = sorted(await affected(session, tenant, members))
    moved = 0
    for part in _slices(people, batch):
        async with database.transaction() as session:
            moved += await rescore(session, tenant, list(part))
            await _clear(session, tenant, run_id, part)
            await renew(session)
        if between is not None:
            await between()
    for part in _slices(sorted(set(members).difference(people)), batch):  # the groups
        async with database.transaction() as session:
            await _clear(session, tenant, run_id, part)
            await renew(session)
    return moved


async def forget(session: AsyncSession, tenant: str, run_id: str) -> None:
    """Drop whatever a finished run still had pending."""
    stmt = delete(PENDING).where(PENDING.c.tenant_id == tenant, PENDING.c.run_id == run_id)
    await db.run(session, tenant, stmt)


async def _clear(session: AsyncSession, tenant: str, run_id: str, ids: Sequence[str]) -> None:
    stmt = delete(PENDING).where(
        PENDING.c.tenant_id == tenant,
        PENDING.c.run_id == run_id,
        PENDING.c.member_id.in_(list(ids)),
    )
    await db.run(session, tenant, stmt)


def _slices(values: Sequence[str], size: int) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), max(1, size))]
