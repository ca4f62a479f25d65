"""Resources from a source, a batch at a time: upserted by (type, key)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select, tuple_, update
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
from gatehouse.identity.models import Resource
from gatehouse.identity.schemas import ResourceData
from gatehouse.kit.ids import new_id

RESOURCES = db.table_of(Resource)


async def ingest_resources(
    session: AsyncSession,
    actor: Actor,
    source: str,
    records: Sequence[SourceRecord],
    *,
    dry_run: bool = False,
    existing: Existing = "update",
) -> IngestReport:
    """Create or update resources; a record's key defaults to its source id.

    `existing` is what happens to a resource of the same type and key: its attributes are
    replaced ("update"), it is skipped, or the record is an error ("fail").
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
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[db.Change] = []
    for (kind, key), (data, index) in valid.items():
        row = current.get((kind, key))
        if row is not None and existing != "update":
            leave_existing(report, existing, key, index, f"a {kind} with this key")
            report.ids[key] = row["id"]
            continue
        if row is None:
            rid = new_id()
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
        elif row["attributes"] != data.attributes:
            before = {"type": kind, "key": key, **(row["attributes"] or {})}
            version = row["version"] + 1
            updates.append(
                {
                    "b_tenant": tenant,
                    "b_id": row["id"],
                    "attributes": data.attributes,
                    "version": version,
                    "updated_at": now,
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
        report.ids[key] = row["id"] if row else creates[-1]["id"]
    if dry_run or not changes:
        return report
    await db.insert_rows(session, RESOURCES, creates)
    stmt = update(RESOURCES).where(
        RESOURCES.c.tenant_id == bindparam("b_tenant"), RESOURCES.c.id == bindparam("b_id")
    )
    await db.execute_many(session, stmt, updates)
    await db.record_versions(session, tenant, actor.actor, source, now, changes)
    await audit.record(session, actor, "resource.ingested", "source", source, after=report.counts())
    return report


async def _rows(
    session: AsyncSession, tenant: str, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    c = RESOURCES.c
    for part in db.chunks(keys, 500):
        stmt = select(c.id, c.type, c.key, c.attributes, c.version).where(
            c.tenant_id == tenant, tuple_(c.type, c.key).in_(part)
        )
        for row in (await db.run(session, tenant, stmt)).mappings():
            found[(row["type"], row["key"])] = dict(row)
    return found
