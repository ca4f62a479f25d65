"""Groups and memberships from a source, a batch at a time (see `ingest` for identities).

Groups correlate by name: a source's group called "Engineering" is the store's "Engineering",
whichever source created it. Memberships name both ends by the source's own ids; a membership
is owned by the source that first stated it, so a full run removes only its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.identity import rows as db
from gatehouse.identity.ingest import (
    Existing,
    IngestReport,
    RecordError,
    SourceRecord,
    error_text,
    leave_existing,
    repeated,
)
from gatehouse.identity.models import Group, GroupLink, Membership
from gatehouse.identity.rescore import rescore_members
from gatehouse.identity.schemas import GroupData
from gatehouse.kit.ids import new_id

GROUPS = db.table_of(Group)
GROUP_LINKS = db.table_of(GroupLink)
MEMBERSHIPS = db.table_of(Membership)


@dataclass(frozen=True)
class MembershipRecord:
    """A source says: this member is directly in this group (both by the source's ids)."""

    group: str
    member: str
    kind: str = "identity"  # or "group"


def _group_snapshot(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "display_name": row["display_name"],
        "external_id": row["external_id"],
        "attributes": dict(row["attributes"] or {}),
    }


async def ingest_groups(
    session: AsyncSession,
    actor: Actor,
    source: str,
    records: Sequence[SourceRecord],
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    existing: Existing = "update",
) -> IngestReport:
    """Create, link or update the groups a source describes.

    `existing` is what happens to a group the store has (linked from `source`, or of the
    same name): updated, skipped (a group of the same name is still linked), or an error.
    """
    report, tenant, now = IngestReport(), actor.tenant_id, datetime.now(UTC)
    valid: dict[str, GroupData] = {}
    where: dict[str, int] = {}
    for index, record in enumerate(records):
        ext = record.external_id
        try:
            data = GroupData.model_validate(record.data)
        except ValidationError as exc:
            report.errors.append(RecordError(ext, error_text(exc), index))
            continue
        if ext in valid and not repeated(report, existing, ext, index):
            continue
        valid[ext], where[ext] = data, index
    linked = await db.source_links(session, GROUP_LINKS, "group_id", tenant, source, list(valid))
    names = {d.display_name.strip().lower() for d in valid.values()}
    by_name = await _groups_by_name(session, tenant, names)
    current = await _group_rows(session, tenant, {*linked.values(), *by_name.values()})
    creates: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    befores: dict[str, dict[str, Any]] = {}
    links: list[dict[str, Any]] = []
    for ext, data in valid.items():
        key = data.display_name.strip().lower()
        gid = linked.get(ext)
        if gid is not None and existing != "update":
            leave_existing(report, existing, ext, where[ext], f"linked from {source}")
            report.ids[ext] = gid
            continue
        if gid is None:
            gid = by_name.get(key)
            if gid is None:
                gid = new_id()
                by_name[key] = gid
                creates[gid] = _new_group(tenant, gid, ext, data, now)
                report.created += 1
            elif existing == "fail":
                leave_existing(report, existing, ext, where[ext], "a group of the same name")
                continue
            else:
                report.linked += existing == "update"
                report.skipped += existing == "skip"
            links.append(db.link_row(tenant, source, ext, now, run_id, group_id=gid))
        report.ids[ext] = gid
        row = creates.get(gid) or updates.get(gid) or current.get(gid)
        if row is None or gid in creates or existing == "skip":
            continue
        proposed = {
            "display_name": data.display_name,
            "external_id": data.external_id or row["external_id"],
            "attributes": {**(row["attributes"] or {}), **data.attributes},
        }
        if proposed == _group_snapshot(row) and row["deleted_at"] is None:
            report.unchanged += ext in linked
            continue
        if by_name.get(key, gid) != gid:
            report.errors.append(
                RecordError(ext, "another group has this display name", where[ext])
            )
            continue
        befores.setdefault(gid, _group_snapshot(row))
        staged = updates.setdefault(gid, dict(row))
        staged.update(proposed, display_name_key=key, deleted_at=None, updated_at=now)
        by_name[key] = gid
        report.updated += ext in linked
    if dry_run:
        return report
    for row in updates.values():
        row["version"] += 1
    await db.insert_rows(session, GROUPS, list(creates.values()))
    await _update_groups(session, list(updates.values()))
    await db.insert_rows(session, GROUP_LINKS, links)
    changes = [(None, r) for r in creates.values()] + [(befores[i], r) for i, r in updates.items()]
    await db.record_versions(
        session,
        tenant,
        actor.actor,
        source,
        now,
        [("group", before, r["id"], r["version"], _group_snapshot(r)) for before, r in changes],
    )
    if run_id:
        seen = [*linked, *(e.external_id for e in report.errors)]
        await db.mark_seen(session, GROUP_LINKS, tenant, source, seen, run_id)
    await audit.record(session, actor, "group.ingested", "source", source, after=report.counts())
    return report


def _new_group(tenant: str, gid: str, ext: str, data: GroupData, now: datetime) -> dict[str, Any]:
    return {
        "id": gid,
        "tenant_id": tenant,
        "display_name": data.display_name,
        "display_name_key": data.display_name.strip().lower(),
        "external_id": data.external_id or ext,
        "attributes": data.attributes,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }


async def _groups_by_name(session: AsyncSession, tenant: str, keys: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in db.chunks(sorted(keys)):
        stmt = select(GROUPS.c.display_name_key, GROUPS.c.id).where(
            GROUPS.c.tenant_id == tenant, GROUPS.c.display_name_key.in_(part)
        )
        found.update((k, i) for k, i in (await db.run(session, tenant, stmt)).all())
    return found


async def _group_rows(
    session: AsyncSession, tenant: str, ids: set[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for part in db.chunks(sorted(ids)):
        stmt = select(GROUPS).where(GROUPS.c.tenant_id == tenant, GROUPS.c.id.in_(part))
        found.update((r["id"], r) for r in db.as_dicts(await db.run(session, tenant, stmt)))
    return found


async def _update_groups(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    columns = ("display_name", "display_name_key", "external_id", "attributes", "version")
    stmt = update(GROUPS).where(
        GROUPS.c.tenant_id == bindparam("b_tenant"), GROUPS.c.id == bindparam("b_id")
    )
    params = [
        {
            "b_tenant": r["tenant_id"],
            "b_id": r["id"],
            "updated_at": r["updated_at"],
            "deleted_at": None,
            **{c: r[c] for c in columns},
        }
        for r in rows
    ]
    await db.execute_many(session, stmt, params)


async def ingest_memberships(
    session: AsyncSession,
    actor: Actor,
    source: str,
    records: Sequence[MembershipRecord],
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    rescore: dict[str, str] | None = None,
    existing: Existing = "update",
    known: KnownLinks | None = None,
) -> IngestReport:
    """Add the memberships a source states; both ends must already be linked to its records.

    A membership the store already has is unchanged ("update"), skipped, or an error ("fail").
    `known` holds links the caller already knows (a sync's own earlier batches): only the
    others are looked up, and those found are added to it.
    """
    report, tenant, now = IngestReport(), actor.tenant_id, datetime.now(UTC)
    known = known if known is not None else KnownLinks()
    group_ext = {r.group for r in records} | {r.member for r in records if r.kind == "group"}
    groups = await _linked(
        session, GROUP_LINKS, "group_id", tenant, source, group_ext, known.groups
    )
    people_ext = {r.member for r in records if r.kind == "identity"}
    people = await _linked(
        session, db.LINKS, "identity_id", tenant, source, people_ext, known.identities
    )
    pairs: dict[tuple[str, str], tuple[str, int]] = {}
    for index, r in enumerate(records):
        ref = f"{r.group}/{r.member}"
        gid = groups.get(r.group)
        mid = (groups if r.kind == "group" else people).get(r.member)
        if r.kind not in ("identity", "group"):
            report.errors.append(RecordError(ref, f"unknown kind {r.kind!r}", index))
        elif gid is None or mid is None:
            missing = r.group if gid is None else r.member
            report.errors.append(
                RecordError(ref, f"{missing!r} is not a record of {source}", index)
            )
        elif (gid, mid) not in pairs or repeated(report, existing, ref, index):
            pairs[(gid, mid)] = (r.kind, index)
    existing_pairs = await _existing(session, tenant, {m for _, m in pairs})
    kinds = {kind for kind, _ in pairs.values()}
    edges = await _nested_edges(session, tenant) if "group" in kinds else {}
    new: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    for (gid, mid), (kind, index) in pairs.items():
        owner = existing_pairs.get((gid, mid))
        ref = f"{records[index].group}/{records[index].member}"
        if owner is not None:
            if existing == "update":
                report.unchanged += 1
            else:
                leave_existing(report, existing, ref, index, "the member is in the group")
            if owner == source:
                seen.append({"b_tenant": tenant, "b_group": gid, "b_member": mid})
            continue
        if kind == "group" and _would_cycle(edges, gid, mid):
            report.errors.append(RecordError(ref, "would make a cycle of groups", index))
            continue
        if kind == "group":
            edges[gid].add(mid)
        new.append(
            {
                "tenant_id": tenant,
                "group_id": gid,
                "member_id": mid,
                "member_type": kind,
                "created_at": now,
                "source": source,
                "seen_run": run_id,
            }
        )
        report.created += 1
    if dry_run:
        return report
    await db.insert_rows(session, MEMBERSHIPS, new)
    if run_id and seen:
        stmt = (
            update(MEMBERSHIPS)
            .where(
                MEMBERSHIPS.c.tenant_id == bindparam("b_tenant"),
                MEMBERSHIPS.c.group_id == bindparam("b_group"),
                MEMBERSHIPS.c.member_id == bindparam("b_member"),
            )
            .values(seen_run=run_id)
        )
        await db.execute_many(session, stmt, seen)
    await membership_changed(session, actor, source, "membership.added", new, now, rescore)
    return report


@dataclass
class KnownLinks:
    """A source's record ids → store ids, as far as a caller has learnt them."""

    identities: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)


async def _linked(
    session: AsyncSession,
    table: Table,
    target: str,
    tenant: str,
    source: str,
    wanted: set[str],
    known: dict[str, str],
) -> dict[str, str]:
    """The links of `wanted` ids: from `known` where it has them, else looked up (and kept)."""
    missing = wanted.difference(known)
    if missing:
        known.update(await db.source_links(session, table, target, tenant, source, missing))
    return {e: known[e] for e in wanted if e in known}


async def membership_changed(
    session: AsyncSession,
    actor: Actor,
    source: str,
    event: str,
    rows: list[dict[str, Any]],
    now: datetime,
    rescore: dict[str, str] | None = None,
) -> None:
    """Events, group versions, risk scores and one audit entry for added or removed members.

    With `rescore`, the moved members are added to it for the caller to rescore once later
    (a sync rescoring at the end of a run) instead of now.
    """
    if not rows:
        return
    tenant = actor.tenant_id
    by_group: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, str] = {}
    events = []
    for r in rows:
        by_group[r["group_id"]].append(r["member_id"])
        kinds[r["member_id"]] = r["member_type"]
        payload = {
            "group_id": r["group_id"],
            "member_id": r["member_id"],
            "member_type": r["member_type"],
            "source": source,
        }
        events.append(db.event_row(tenant, event, "group", r["group_id"], payload, now))
    await db.insert_rows(session, db.EVENTS, events)
    bump = (
        update(GROUPS)
        .where(GROUPS.c.tenant_id == tenant, GROUPS.c.id.in_(bindparam("ids", expanding=True)))
        .values(version=GROUPS.c.version + 1, updated_at=now)
    )
    versions: dict[str, int] = {}
    for part in db.chunks(sorted(by_group)):
        await db.run(session, tenant, bump, {"ids": list(part)})
        stmt = select(GROUPS.c.id, GROUPS.c.version).where(
            GROUPS.c.tenant_id == tenant, GROUPS.c.id.in_(part)
        )
        versions.update((i, v) for i, v in (await db.run(session, tenant, stmt)).all())
    verb = event.rsplit(".", 1)[1]
    await db.record_versions(
        session,
        tenant,
        actor.actor,
        source,
        now,
        [
            ("group", None, gid, versions[gid], {verb: members[:1000], "count": len(members)})
            for gid, members in by_group.items()
        ],
        events=False,  # each member's own membership event is written above
    )
    if rescore is None:
        await rescore_members(session, tenant, kinds)
    else:
        rescore.update(kinds)
    await audit.record(
        session,
        actor,
        f"{event}",
        "source",
        source,
        after={"groups": len(by_group), "count": len(rows)},
    )


async def _existing(
    session: AsyncSession, tenant: str, member_ids: set[str]
) -> dict[tuple[str, str], str]:
    """(group, member) → owning source, for the memberships these members already have."""
    found: dict[tuple[str, str], str] = {}
    m = MEMBERSHIPS.c
    for part in db.chunks(sorted(member_ids)):
        stmt = select(m.group_id, m.member_id, m.source).where(
            m.tenant_id == tenant, m.member_id.in_(part)
        )
        found.update(((g, mid), s) for g, mid, s in (await db.run(session, tenant, stmt)).all())
    return found


async def _nested_edges(session: AsyncSession, tenant: str) -> dict[str, set[str]]:
    """Parent group → child groups, for the whole tenant (nesting is sparse)."""
    m = MEMBERSHIPS.c
    stmt = select(m.group_id, m.member_id).where(m.tenant_id == tenant, m.member_type == "group")
    edges: dict[str, set[str]] = defaultdict(set)
    for parent, child in (await db.run(session, tenant, stmt)).all():
        edges[parent].add(child)
    return edges


def _would_cycle(edges: dict[str, set[str]], parent: str, child: str) -> bool:
    """True when `parent` is `child` or lies below it already."""
    stack, visited = [child], set()
    while stack:
        node = stack.pop()
        if node == parent:
            return True
        if node not in visited:
            visited.add(node)
            stack.extend(edges.get(node, ()))
    return False
