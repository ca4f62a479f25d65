"""Keep a tenant's document materialised: apply store events to its entries, bump revisions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.bulk import insert_many
from gatehouse.db.tenancy import TENANT
from gatehouse.db.upsert import insert_ignore
from gatehouse.distribution import service
from gatehouse.distribution.desired import Entry, Path, Scope, build
from gatehouse.distribution.document import etag_of
from gatehouse.distribution.graph import GroupGraph, load_graph
from gatehouse.distribution.models import DocumentState, Fragment, Revision
from gatehouse.events.models import Event
from gatehouse.events.service import emit
from gatehouse.identity.models import Membership
from gatehouse.identity.rows import chunks, execute_many, table_of

FRAGMENTS = table_of(Fragment)
EVENT_BATCH = 10_000  # more pending events than this: rebuild everything (diffed all the same)
PARTIAL_LIMIT = 5_000  # more records touched than this: the same
MOD = 1 << 128
# Events that change what a bundle or an engine holds without touching the document's entries.
POLICY_EVENTS = frozenset({"policy", "decision_data"})


@dataclass
class Limits:
    """How far back deltas reach."""

    delta_window: int = 500


@dataclass
class Stored:
    """An entry as the fragments table has it."""

    record_id: str
    digest: str
    removed: bool


def _weight(path: Path, digest: str) -> int:
    raw = f"{path[0]}\0{path[1]}\0{digest}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "big")


async def state_for_update(session: AsyncSession, tenant: str) -> DocumentState:
    """The tenant's state row, created when missing, locked for this transaction."""
    await insert_ignore(
        session,
        DocumentState,
        tenant_id=tenant,
        revision=0,
        content_hash="",
        aggregate="0",
        shape="",
        event_cursor=0,
        delta_floor=0,
        fragments=0,
    )
    stmt = (
        select(DocumentState)
        .where(DocumentState.tenant_id == tenant)
        .with_for_update()
        .execution_options(**{TENANT: tenant}, populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def pending_events(
    session: AsyncSession, tenant: str, cursor: int, limit: int
) -> Sequence[Event]:
    """Events after the cursor, oldest first."""
    stmt = (
        select(Event)
        .where(Event.tenant_id == tenant, Event.id > cursor)
        .order_by(Event.id)
        .limit(limit)
    )
    return (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalars().all()


async def last_event(session: AsyncSession, tenant: str) -> int:
    """The id of the tenant's newest event (0 when none)."""
    stmt = select(func.max(Event.id)).where(Event.tenant_id == tenant)
    return (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalar() or 0


@dataclass
class Touched:
    """What a batch of events changed."""

    users: set[str]
    groups: set[str]
    resources: set[str]
    below: set[str]  # groups whose members (transitively) need their group lists again
    graph: bool = False  # groups or nesting changed
    everything: bool = False


def touched_by(events: Sequence[Event]) -> Touched:
    """The records a batch of events touched."""
    out = Touched(set(), set(), set(), set())
    for event in events:
        kind, _, verb = event.type.partition(".")
        payload = event.payload or {}
        if kind == "identity":
            out.users.add(event.subject_id)
        elif kind == "resource":
            out.resources.add(event.subject_id)
        elif kind == "membership":
            member = str(payload.get("member_id", ""))
            if payload.get("member_type") == "group":
                out.groups.add(member)
                out.below.add(member)
                out.graph = True
            else:
                out.users.add(member)
        elif kind == "group" and verb in ("created", "updated"):
            out.groups.add(event.subject_id)
            out.graph = True
            if verb == "updated":
                out.below.add(event.subject_id)
        elif kind == "group" and verb == "deleted":
            out.everything = True  # its memberships are gone: who was below it is unknown
    return out


async def members_below(
    session: AsyncSession, tenant: str, graph: GroupGraph, top: set[str]
) -> set[str]:
    """Identities in the groups (or any group below them)."""
    found: set[str] = set()
    for part in chunks(sorted(graph.descendants(top))):
        rows = await session.execute(
            select(Membership.member_id)
            .where(Membership.tenant_id == tenant, Membership.member_type == "identity")
            .where(Membership.group_id.in_(part))
            .execution_options(**{TENANT: tenant})
        )
        found.update(rows.scalars())
    return found


async def _stored(session: AsyncSession, tenant: str, scope: Scope, paths: Sequence[Path]) -> Any:
    """Stored entries of the scope's records and at the given paths."""
    cols = (Fragment.section, Fragment.key, Fragment.record_id, Fragment.digest, Fragment.removed)
    base = select(*cols).where(Fragment.tenant_id == tenant).execution_options(**{TENANT: tenant})
    found: dict[Path, Stored] = {}

    def keep(rows: Any) -> None:
        for section, key, rid, dig, removed in rows:
            found[(section, key)] = Stored(rid, dig, removed)

    if scope.everything:
        keep(await session.execute(base))
        return found
    for part in chunks(sorted(scope.record_ids())):
        keep(await session.execute(base.where(Fragment.record_id.in_(part))))
    by_section: dict[str, list[str]] = {}
    for section, key in paths:
        by_section.setdefault(section, []).append(key)
    for section, keys in by_section.items():
        for part in chunks(sorted(keys)):
            stmt = base.where(Fragment.section == section, Fragment.key.in_(part))
            keep(await session.execute(stmt))
    return found


async def write_entries(
    session: AsyncSession,
    state: DocumentState,
    desired: dict[Path, Entry],
    scope: Scope,
    revision: int,
) -> int:
    """Store what differs between `desired` and the stored entries; returns how many changed."""
    tenant = state.tenant_id
    stored = await _stored(session, tenant, scope, list(desired))
    mine = scope.record_ids()
    total = int(state.aggregate, 16)
    live = state.fragments
    fresh: list[dict[str, Any]] = []
    replaced: list[dict[str, Any]] = []
    gone: list[dict[str, Any]] = []
    for path, entry in desired.items():
        cur = stored.get(path)
        if cur is not None and not cur.removed:
            held_by_other = cur.record_id != entry.record_id and cur.record_id not in mine
            if held_by_other and not scope.everything:
                continue  # another record holds this key (the first one keeps it)
            if cur.record_id == entry.record_id and cur.digest == entry.digest:
                continue
            total -= _weight(path, cur.digest)
            live -= 1
        total += _weight(path, entry.digest)
        live += 1
        row = {
            "tenant_id": tenant,
            "section": entry.section,
            "key": entry.key,
            "record_id": entry.record_id,
            "body": entry.body.decode(),
            "digest": entry.digest,
            "revision": revision,
            "removed": False,
        }
        (fresh if cur is None else replaced).append(row)
    for path, cur in stored.items():
        if cur.removed or path in desired or not (scope.everything or cur.record_id in mine):
            continue
        total -= _weight(path, cur.digest)
        live -= 1
        gone.append({"s": path[0], "k": path[1]})
    by_key = (
        (FRAGMENTS.c.tenant_id == tenant)
        & (FRAGMENTS.c.section == bindparam("s"))
        & (FRAGMENTS.c.key == bindparam("k"))
    )
    await execute_many(
        session,
        delete(FRAGMENTS).where(by_key),
        [{"s": r["section"], "k": r["key"]} for r in replaced],
    )
    await insert_many(session, FRAGMENTS, fresh + replaced)
    tombstone = update(FRAGMENTS).where(by_key).values(removed=True, body="", revision=revision)
    await execute_many(session, tombstone, gone)
    state.aggregate = f"{total % MOD:x}"
    state.fragments = live
    return len(fresh) + len(replaced) + len(gone)


async def publish(
    session: AsyncSession,
    state: DocumentState,
    revision: int,
    changed: int,
    limits: Limits,
    *,
    rebuilt: bool = False,
) -> None:
    """Make `revision` current: hash, revision log, its `bundle.published` event, and pruning
    beyond the delta window."""
    tenant = state.tenant_id
    state.revision = revision
    state.content_hash = hashlib.sha256(f"{state.aggregate}|{state.shape}".encode()).hexdigest()
    session.add(
        Revision(
            tenant_id=tenant, revision=revision, content_hash=state.content_hash, changed=changed
        )
    )
    data = {
        "tenant": tenant,
        "revision": revision,
        "etag": etag_of(revision, state.content_hash),
        "content_hash": state.content_hash,
        "changed": changed,
        "rebuilt": rebuilt,
    }
    emit(session, tenant, "bundle.published", "bundle", tenant, data)
    oldest = revision - limits.delta_window
    if oldest > state.delta_floor:
        state.delta_floor = oldest
        scoped = {TENANT: tenant}
        await session.execute(
            delete(Fragment)
            .where(Fragment.tenant_id == tenant, Fragment.removed, Fragment.revision < oldest)
            .execution_options(**scoped)
        )
        await session.execute(
            delete(Revision)
            .where(Revision.tenant_id == tenant, Revision.revision < oldest)
            .execution_options(**scoped)
        )


async def refresh(
    session: AsyncSession,
    tenant: str,
    limits: Limits,
    graph: GroupGraph | None = None,
    *,
    bump: bool = False,
) -> tuple[DocumentState, GroupGraph]:
    """Apply the tenant's pending events (or rebuild when the shape changed) and publish a new
    revision when anything changed, when `bump` asks for one (a new signing key), or when a
    policy or tenant-local data changed (bundles and engines carry those too)."""
    state = await state_for_update(session, tenant)
    shaper = await service.shaper_of(session, tenant)
    shape = await service.shape_of(session, tenant, shaper)
    events = await pending_events(session, tenant, state.event_cursor, EVENT_BATCH + 1)
    new_shape = shape != state.shape or state.revision == 0
    scope = Scope()
    bump = bump or any(e.type.partition(".")[0] in POLICY_EVENTS for e in events)
    if new_shape or len(events) > EVENT_BATCH:
        cursor = await last_event(session, tenant)
    else:
        cursor = events[-1].id if events else state.event_cursor
        touched = touched_by(events)
        if not touched.everything:
            if graph is None or touched.graph:
                graph = await load_graph(session, tenant)
            touched.users |= await members_below(session, tenant, graph, touched.below)
            for gid in touched.below:
                touched.groups |= graph.children.get(gid, set())
            scope = Scope(touched.users, touched.groups, touched.resources)
            if len(scope.record_ids()) > PARTIAL_LIMIT:
                scope = Scope()
    if scope.everything or graph is None:
        graph = await load_graph(session, tenant)
    state.event_cursor = cursor
    revision = state.revision + 1
    changed = 0
    if scope.everything or scope.record_ids():
        desired = await build(session, tenant, shaper, graph, scope)
        changed = await write_entries(session, state, desired, scope, revision)
    if new_shape:
        state.shape = shape
        state.delta_floor = revision  # paths or signing moved: no delta reaches across
    if changed or new_shape or bump:
        await publish(session, state, revision, changed, limits, rebuilt=new_shape)
    return state, graph
