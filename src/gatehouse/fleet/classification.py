"""The sensitivity of the store's attributes, from the tenant's connection mappings.

A connection's mapping classifies each source field (the discovered suggestion or the
mapping's override) and its transform names the store attribute each field feeds. An attribute
takes the strictest level of the fields it is made from; a field without a transform keeps its
own name. Both names are returned, lower-cased: a decision input may carry either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.connections.models import Connection
from gatehouse.connectors.protocol import Sensitivity
from gatehouse.db.tenancy import TENANT

RANK = {level: n for n, level in enumerate(Sensitivity)}
PATH_PARTS = re.compile(r"[.\[\]]+")
TEMPLATE_REFS = re.compile(r"\{([^{}]+)\}")


def stricter(a: Sensitivity | None, b: Sensitivity) -> Sensitivity:
    """The stricter of two levels."""
    return b if a is None or RANK[b] > RANK[a] else a


def leaf(path: str) -> str:
    """The last name of a dotted path (`attributes.salary` → `salary`)."""
    parts = [p for p in PATH_PARTS.split(path) if p and not p.isdigit()]
    return parts[-1] if parts else path


def sources_of(spec: Any) -> list[str]:
    """The source field paths a transform field spec reads (`"a.b"`, `from`, a template)."""
    if isinstance(spec, str):
        return [spec]
    if not isinstance(spec, Mapping):
        return []
    if isinstance(spec.get("from"), str):
        return [spec["from"]]
    if isinstance(spec.get("template"), str):
        return [ref.strip() for ref in TEMPLATE_REFS.findall(spec["template"])]
    return []


def stream_levels(
    discovered: Iterable[Mapping[str, Any]], mapping: Mapping[str, Any]
) -> dict[str, Sensitivity]:
    """Name → level for the mapped streams of one connection."""
    docs = {d.get("name"): d for d in discovered if isinstance(d, Mapping)}
    levels: dict[str, Sensitivity] = {}

    def note(name: str, level: Sensitivity) -> None:
        key = name.lower()
        levels[key] = stricter(levels.get(key), level)

    for stream, chosen in (mapping.get("streams") or {}).items():
        fields: dict[str, Sensitivity] = {}
        for f in (docs.get(stream) or {}).get("fields") or ():
            fields[f["name"]] = Sensitivity(f.get("sensitivity", "internal"))
        for name, level in (chosen.get("sensitivity") or {}).items():
            fields[name] = Sensitivity(level)
        for name, level in fields.items():
            note(name, level)
            note(leaf(name), level)
        for target, spec in ((chosen.get("transform") or {}).get("fields") or {}).items():
            found: Sensitivity | None = None
            for source in sources_of(spec):
                for candidate in (source, PATH_PARTS.split(source)[0]):
                    if candidate in fields:
                        found = stricter(found, fields[candidate])
            if found is not None:
                note(leaf(target), found)
    return levels


async def attribute_levels(session: AsyncSession, tenant_id: str) -> dict[str, Sensitivity]:
    """Lower-cased attribute and field names → their strictest level across live connections."""
    stmt = select(Connection.discovered, Connection.mapping).where(Connection.deleted_at.is_(None))
    rows = await session.execute(stmt.execution_options(**{TENANT: tenant_id}))
    levels: dict[str, Sensitivity] = {}
    for discovered, mapping in rows:
        for name, level in stream_levels(discovered or [], mapping or {}).items():
            levels[name] = stricter(levels.get(name), level)
    return levels
