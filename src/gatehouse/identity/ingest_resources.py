"""Resources from a source, a batch at a time: upserted by (type, key), linked to the source's
record ids (so a full run can tell which resources its source no longer describes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.bulk import update_many
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
from gatehouse.identity.models import Resource, ResourceLink
from gatehouse.identity.schemas import ResourceData
from gatehouse.kit.ids import new_id

RESOURCES = db.table_of(Resource)
RESOURCE_LINKS = db.table_of(ResourceLink)


async def ingest_resources(
    session: AsyncSession,
    actor: Actor,
    source: str,
    records: Sequence[SourceRecord],
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    existing: Existing = "update",
) -> IngestReport:
    """Create or update resources; a record's key defaults to its source id.

    `existing` is what happens to a resource of the same type and key: its attributes are
    replaced ("update"), it is skipped, or the record is an error ("fail"). A deleted resource
    the source describes again is restored. With `run_id` (a full run) every record read is
    marked seen, for deletion detection.
    """
    report, tenant, now = IngestReport(), actor.tenant_id, datetime.now(UTC)
    valid: dict[tuple[str, str], tuple[ResourceData, int]] = {}
    for index, record in enumerate(records):
        try:
            data = ResourceData.model_validate({"key": record.external_id, **record.data})
        except ValidationError as exc:
            report.errors.append(RecordError(record.external_id, error_text(exc), index))
            continue
        if (data.type, data.key) not in valid or repeated(report, existing, data.key, index):
            valid[(data.type, data.key)] = (data, index)
    current = await _rows(session, tenant, list(valid))
    exts = {records[index].external_id for _, index in valid.values()}
    linked = await db.source_links(session, RESOURCE_LINKS, "resource_id", tenant, source, exts)
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[db.Change] = []
    links: list[dict[str, Any]] = []
    relinks: list[dict[str, Any]] = []
    staged: set[str] = set()

    def link(ext: str, rid: str) -> None:
        if ext in staged:  # one source record, one link (the first resource it names)
            return
        staged.add(ext)
        if ext not in linked:
            links.append(db.link_row(tenant, source, ext, now, run_id, resource_id=rid))
        elif linked[ext] != rid:  # the record now describes another resource (its type moved)
            relinks.append(
                {"tenant_id": tenant, "source": source, "external_id": ext, "resource_id": rid}
            )

    for (kind, key), (data, index) in valid.items():
        row = current.get((kind, key))
        rid = row["id"] if row is not None else new_id()
        if row is not None and existing != "update":
            leave_existing(report, existing, key, index, f"a {kind} with this key")
            report.ids[key] = rid
            if existing == "skip":
                link(records[index].external_id, rid)
            continue
        link(records[index].external_id, rid)
        if row is None:
            creates.append(
                {
                    "id": rid,
                    "tenant_id": tenant,
                    "type": kind,
                    "key": key,
                    "attributes": data.attributes,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            changes.append(
                ("resource", None, rid, 1, {"type": kind, "key": key, **data.attributes})
            )
            report.created += 1
        elif row["attributes"] != data.attributes or row["deleted_at"] is not None:
            before = {"type": kind, "key": key, **(row["attributes"] or {})}
            version = row["version"] + 1
            updates.append(
                {
                    "b_tenant": tenant,
                    "b_id": row["id"],
                    "attributes": data.attributes,
                    "version": version,
                    "updated_at": now,
                    "deleted_at": None,
                }
            )
            changes.append(
                (
                    "resource",
                    before,
                    row["id"],
                    version,
                    {"type": kind, "key": key, **data.attributes},
                )
            )
            report.updated += 1
        else:
            report.unchanged += 1
        report.ids[key] = rid
    if dry_run:
        return report
    await db.insert_rows(session, RESOURCE_LINKS, links)
    await update_many(session, RESOURCE_LINKS, ("tenant_id", "source", "external_id"), relinks)
    if run_id:
        seen = [*linked, *(e.external_id for e in report.errors)]
        await db.mark_seen(session, RESOURCE_LINKS, tenant, source, seen, run_id)
    if not changes:
        return report
    await db.insert_rows(session, RESOURCES, creates)
    stmt = update(RESOURCES).where(
        RESOURCES.c.tenant_id == bindparam("b_tenant"), RESOURCES.c.id == bindparam("b_id")
    )
    await db.execute_many(session, stmt, updates)
    await db.record_versions(session, tenant, actor.actor, source, now, changes)
    await audit.record(session, actor, "resource.ingested", "source", source, after=report.counts())
    return report


async def delete_resources(
    session: AsyncSession, actor: Actor, ids: Sequence[str], *, source: str
) -> None:
    """Soft-delete resources: hidden from listings, history kept; a version and a
    `resource.deleted` event each, one audit entry for all."""
    tenant, now = actor.tenant_id, datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    c = RESOURCES.c
    for part in db.chunks(sorted(ids)):
        stmt = select(c.id, c.type, c.key, c.attributes, c.version).where(
            c.tenant_id == tenant, c.id.in_(part), c.deleted_at.is_(None)
        )
        rows.extend(db.as_dicts(await db.run(session, tenant, stmt)))
    if not rows:
        return
    await update_many(
        session,
        RESOURCES,
        ("tenant_id", "id"),
        [
            {
                "tenant_id": tenant,
                "id": r["id"],
                "version": r["version"] + 1,
                "updated_at": now,
                "deleted_at": now,
            }
            for r in rows
        ],
    )
    await db.record_versions(
        session,
        tenant,
        actor.actor,
        source,
        now,
        [
            (
                "resource",
                {"type": r["type"], "key": r["key"], **(r["attributes"] or {})},
                r["id"],
                r["version"] + 1,
                None,
            )
            for r in rows
        ],
    )
    await audit.record(
        session, actor, "resource.deleted", "source", source, after={"count": len(rows)}
    )


async def _rows(
    session: AsyncSession, tenant: str, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    c = RESOURCES.c
    for part in db.chunks(keys, 500):
        stmt = select(c.id, c.type, c.key, c.attributes, c.version, c.deleted_at).where(
            c.tenant_id == tenant, tuple_(c.type, c.key).in_(part)
        )
        for row in (await db.run(session, tenant, stmt)).mappings():
            found[(row["type"], row["key"])] = dict(row)
    return found
