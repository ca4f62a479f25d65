"""What the document should hold for some (or all) of a tenant's records, read from the store."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.distribution.fragments import (
    USER_COLUMNS,
    canonical,
    digest,
    group_value,
    resource_value,
    user_key,
    user_value,
)
from gatehouse.distribution.graph import GroupGraph
from gatehouse.distribution.shaping import Shaper
from gatehouse.identity.models import Group, Identity, Membership, Resource
from gatehouse.identity.rows import chunks

Path = tuple[str, str]  # (section, key): ("users", "alice"), ("resources/repo", "api")


@dataclass(frozen=True, slots=True)
class Entry:
    """One document entry as it should be."""

    section: str
    key: str
    record_id: str
    body: bytes
    digest: str


@dataclass(frozen=True, slots=True)
class Scope:
    """Which records to (re)build: None means every record of that kind."""

    users: Collection[str] | None = None
    groups: Collection[str] | None = None
    resources: Collection[str] | None = None

    @property
    def everything(self) -> bool:
        """Whether this is a full rebuild."""
        return self.users is None and self.groups is None and self.resources is None

    def record_ids(self) -> set[str]:
        """The ids named (a partial scope only)."""
        return {*(self.users or ()), *(self.groups or ()), *(self.resources or ())}


USER_FIELDS = (Identity.id, Identity.attributes, *(getattr(Identity, c) for c in USER_COLUMNS))


def _entry(entries: dict[Path, Entry], section: str, key: str, rid: str, value: Any) -> None:
    """Add an entry unless another record already holds its path (the lower id wins)."""
    if (section, key) in entries:
        return
    body = canonical(value)
    entries[(section, key)] = Entry(section, key, rid, body, digest(body))


async def _rows(
    session: AsyncSession, tenant: str, stmt: Any, column: Any, ids: Collection[str] | None
) -> list[dict[str, Any]]:
    """Rows of a statement, all of them or those whose `column` is in `ids`."""
    scoped = stmt.execution_options(**{TENANT: tenant})
    if ids is None:
        return [dict(r) for r in (await session.execute(scoped)).mappings()]
    found: list[dict[str, Any]] = []
    for part in chunks(sorted(ids)):
        result = await session.execute(scoped.where(column.in_(part)))
        found.extend(dict(r) for r in result.mappings())
    return found


async def direct_groups(
    session: AsyncSession, tenant: str, users: Collection[str] | None
) -> dict[str, list[str]]:
    """Identity id → the groups it is directly in."""
    stmt = select(Membership.member_id, Membership.group_id).where(
        Membership.tenant_id == tenant, Membership.member_type == "identity"
    )
    direct: dict[str, list[str]] = defaultdict(list)
    for row in await _rows(session, tenant, stmt, Membership.member_id, users):
        direct[row["member_id"]].append(row["group_id"])
    return direct


async def build(
    session: AsyncSession, tenant: str, shaper: Shaper, graph: GroupGraph, scope: Scope
) -> dict[Path, Entry]:
    """The entries of the records in `scope`, as the store has them now."""
    settings = shaper.settings
    entries: dict[Path, Entry] = {}
    streams = set(settings.streams)
    if "users" in streams and scope.users != ():
        stmt = select(*USER_FIELDS).where(
            Identity.tenant_id == tenant,
            Identity.status != "deleted",
            Identity.deleted_at.is_(None),
        )
        people = await _rows(session, tenant, stmt, Identity.id, scope.users)
        direct = await direct_groups(session, tenant, scope.users)
        key = settings.key.value
        for row in sorted(people, key=lambda r: r["id"]):
            found = user_key(row, key)
            if found is not None:
                names = graph.group_names(direct.get(row["id"], ()))
                _entry(entries, "users", found, row["id"], user_value(row, names, shaper))
    if "groups" in streams and scope.groups != ():
        ids: Sequence[str] = sorted(graph.names if scope.groups is None else scope.groups)
        stmt = select(Group.id, Group.display_name, Group.external_id, Group.attributes).where(
            Group.tenant_id == tenant, Group.deleted_at.is_(None)
        )
        for row in sorted(
            await _rows(session, tenant, stmt, Group.id, None if scope.groups is None else ids),
            key=lambda r: r["id"],
        ):
            parents = [graph.names[p] for p in graph.parents.get(row["id"], ()) if p in graph.names]
            value = group_value(row, parents, shaper)
            _entry(entries, "groups", row["display_name"], row["id"], value)
    if "resources" in streams and scope.resources != ():
        stmt = select(Resource.id, Resource.type, Resource.key, Resource.attributes).where(
            Resource.tenant_id == tenant, Resource.deleted_at.is_(None)
        )
        if settings.resource_types:
            stmt = stmt.where(Resource.type.in_(settings.resource_types))
        for row in sorted(
            await _rows(session, tenant, stmt, Resource.id, scope.resources),
            key=lambda r: r["id"],
        ):
            value = resource_value(row, shaper)
            _entry(entries, f"resources/{row['type']}", row["key"], row["id"], value)
    return entries
