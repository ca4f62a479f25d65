"""Conflicts rows for batch ingestion: built as plain rows, and each offer raised once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.identity.rows import CONFLICTS, chunks, insert_rows, run
from gatehouse.kit.ids import new_id


def conflict_row(
    tenant: str,
    kind: str,
    ident: str | None,
    attribute: str,
    source: str,
    external_id: str,
    offered: Any,
    kept_source: str,
    kept: Any,
    candidates: list[str] | None = None,
) -> dict[str, Any]:
    """A conflicts row (open for review)."""
    return {
        "id": new_id(),
        "tenant_id": tenant,
        "kind": kind,
        "identity_id": ident,
        "attribute": attribute,
        "source": source,
        "external_id": external_id,
        "offered": offered,
        "kept_source": kept_source,
        "kept": kept,
        "candidates": candidates,
        "status": "open",
    }


def _conflict_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    offered = orjson.dumps(row["offered"], option=orjson.OPT_SORT_KEYS)
    return (row["kind"], row["identity_id"], row["attribute"], row["external_id"], offered)


async def insert_conflicts(session: AsyncSession, tenant: str, rows: list[dict[str, Any]]) -> None:
    """Insert conflicts rows of one source, except those already raised: the same offer is
    open for review, or was kept or dismissed (a decision a later sync must not undo)."""
    if not rows:
        return
    c = CONFLICTS.c
    decided = or_(c.status == "open", c.resolution.in_(("keep", "dismiss")))
    known: set[tuple[Any, ...]] = set()
    for part in chunks(sorted({r["external_id"] for r in rows})):
        stmt = select(c.kind, c.identity_id, c.attribute, c.external_id, c.offered).where(
            c.tenant_id == tenant, c.source == rows[0]["source"], c.external_id.in_(part), decided
        )
        known.update(_conflict_key(dict(r)) for r in (await run(session, tenant, stmt)).mappings())
    fresh = []
    for row in rows:
        key = _conflict_key(row)
        if key not in known:
            known.add(key)
            fresh.append(row)
    await insert_rows(session, CONFLICTS, fresh)
