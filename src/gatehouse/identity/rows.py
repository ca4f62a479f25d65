"""Set-wise reads and writes of identity rows for batch ingestion (Core statements, no ORM)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Executable,
    Result,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.bulk import insert_many, update_many
from gatehouse.db.tenancy import TENANT
from gatehouse.events.catalog import require
from gatehouse.events.models import Event
from gatehouse.identity.graph import group_names_of_many
from gatehouse.identity.merge import initial_provenance
from gatehouse.identity.models import (
    Conflict,
    Identity,
    IdentityLink,
    RecordVersion,
    status_for,
)
from gatehouse.identity.schemas import IDENTITY_COLUMNS

CHUNK = 2_000  # values per IN list: far below every backend's parameter limit
T = TypeVar("T")


def table_of(model: type[Any]) -> Table:
    """The Core table behind a model."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


IDENTITIES = table_of(Identity)
LINKS = table_of(IdentityLink)
CONFLICTS = table_of(Conflict)
VERSIONS = table_of(RecordVersion)
EVENTS = table_of(Event)
MUTABLE = (
    *IDENTITY_COLUMNS,
    "user_name_key",
    "status",
    "risk_score",
    "risk_factors",
    "attributes",
    "provenance",
    "version",
    "updated_at",
    "deleted_at",
)


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def run(
    session: AsyncSession, tenant: str, stmt: Executable, params: dict[str, Any] | None = None
) -> Result[*tuple[Any, ...]]:
    """Execute a statement that names `tenant` in its WHERE clause."""
    return await session.execute(stmt.execution_options(**{TENANT: tenant}), params)


async def execute_many(
    session: AsyncSession, stmt: Executable, params: list[dict[str, Any]]
) -> None:
    """One statement over many parameter sets (executemany), in chunks."""
    if not params:
        return
    conn = await session.connection()
    for part in chunks(params):
        await conn.execute(stmt, list(part))


async def source_links(
    session: AsyncSession,
    table: Table,
    target: str,
    tenant: str,
    source: str,
    external_ids: Iterable[str],
) -> dict[str, str]:
    """Source record id → linked record id (`target` column), for those already linked."""
    found: dict[str, str] = {}
    for part in chunks(sorted(external_ids)):
        stmt = select(table.c.external_id, table.c[target]).where(
            table.c.tenant_id == tenant, table.c.source == source, table.c.external_id.in_(part)
        )
        found.update((e, i) for e, i in (await run(session, tenant, stmt)).all())
    return found


async def linked_identities(session: AsyncSession, tenant: str, source: str) -> list[str]:
    """Every identity a source links."""
    stmt = select(LINKS.c.identity_id).where(LINKS.c.tenant_id == tenant, LINKS.c.source == source)
    return list((await run(session, tenant, stmt)).scalars())


async def mark_seen(
    session: AsyncSession,
    table: Table,
    tenant: str,
    source: str,
    external_ids: Sequence[str],
    run_id: str,
) -> None:
    """Record that a full run saw these source records (deletion detection)."""
    for part in chunks(external_ids):
        stmt = (
            update(table)
            .where(
                table.c.tenant_id == tenant,
                table.c.source == source,
                table.c.external_id.in_(part),
            )
            .values(seen_run=run_id)
        )
        await run(session, tenant, stmt)


def as_dicts(result: Result[*tuple[Any, ...]]) -> list[dict[str, Any]]:
    """A result's rows as plain dicts (cheaper than a mapping view per row)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def rule_value(rule: str, data: dict[str, Any]) -> str | None:
    """The value a correlation rule compares, normalised as the rule compares it."""
    value = data.get(rule)
    if not value:
        return None
    text = str(value).strip()
    return text.lower() if rule in ("user_name", "email") else text


def _rule_column(rule: str) -> ColumnElement[Any]:
    if rule == "user_name":
        return IDENTITIES.c.user_name_key
    if rule == "email":
        return func.lower(IDENTITIES.c.email)
    return IDENTITIES.c[rule]


class Matches:
    """Live identities holding each rule's values, for records not yet linked."""

    def __init__(self) -> None:
        self.by_rule: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

    def all_ids(self) -> set[str]:
        """Every identity any rule found."""
        return {i for values in self.by_rule.values() for ids in values.values() for i in ids}

    def find(
        self, rules: Iterable[str], data: dict[str, Any], pending: dict[str, dict[str, str]]
    ) -> tuple[str | None, bool]:
        """(identity id, ambiguous) by the first rule that decides; staged creates count."""
        for rule in rules:
            value = rule_value(rule, data)
            if value is None:
                continue
            candidates = set(self.by_rule[rule].get(value, ()))
            if (staged := pending[rule].get(value)) is not None:
                candidates.add(staged)
            if len(candidates) == 1:
                return candidates.pop(), False
            if candidates:
                return None, True
        return None, False

    def candidates(
        self, rules: Iterable[str], data: dict[str, Any], pending: dict[str, dict[str, str]]
    ) -> list[str]:
        """The identities an ambiguous record matched, by the rule that found several."""
        for rule in rules:
            value = rule_value(rule, data)
            found = set(self.by_rule[rule].get(value, ())) if value is not None else set()
            if value is not None and (staged := pending[rule].get(value)) is not None:
                found.add(staged)
            if len(found) > 1:
                return sorted(found)
        return []


async def rule_matches(
    session: AsyncSession, tenant: str, rules: Sequence[str], records: Sequence[dict[str, Any]]
) -> Matches:
    """One query per rule (and chunk) for every value the records carry."""
    matches = Matches()
    for rule in rules:
        values = sorted({v for d in records if (v := rule_value(rule, d)) is not None})
        column = _rule_column(rule)
        for part in chunks(values):
            stmt = select(column, IDENTITIES.c.id).where(
                IDENTITIES.c.tenant_id == tenant,
                column.in_(part),
                IDENTITIES.c.status != "deleted",
            )
            for value, ident in (await run(session, tenant, stmt)).all():
                matches.by_rule[rule][value].append(ident)
    return matches


async def identity_rows(
    session: AsyncSession, tenant: str, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Identity rows by id, as plain dicts."""
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(ids)):
        stmt = select(IDENTITIES).where(IDENTITIES.c.tenant_id == tenant, IDENTITIES.c.id.in_(part))
        found.update((row["id"], row) for row in as_dicts(await run(session, tenant, stmt)))
    return found


async def taken_user_names(
    session: AsyncSession, tenant: str, keys: Iterable[str]
) -> dict[str, str]:
    """userName key → the identity holding it, for the keys that are taken."""
    found: dict[str, str] = {}
    for part in chunks(sorted(keys)):
        stmt = select(IDENTITIES.c.user_name_key, IDENTITIES.c.id).where(
            IDENTITIES.c.tenant_id == tenant, IDENTITIES.c.user_name_key.in_(part)
        )
        found.update((k, i) for k, i in (await run(session, tenant, stmt)).all())
    return found


async def group_names(
    session: AsyncSession, tenant: str, ids: Sequence[str]
) -> dict[str, list[str]]:
    """Each identity's group names (nested included), in chunks."""
    found: dict[str, list[str]] = {}
    for part in chunks(ids):
        found.update(await group_names_of_many(session, tenant, part))
    return found


def new_identity_row(
    tenant: str,
    ident: str,
    external_id: str,
    user_name: str,
    data: dict[str, Any],
    source: str,
    now: datetime,
) -> dict[str, Any]:
    """A complete identities row for a new identity."""
    row: dict[str, Any] = dict.fromkeys(IDENTITY_COLUMNS)
    row.update(data)
    active = row["active"] if row["active"] is not None else True
    attributes = dict(data.get("attributes") or {})
    row.update(
        id=ident,
        tenant_id=tenant,
        user_name=user_name,
        user_name_key=user_name.lower(),
        external_id=data.get("external_id") or external_id,
        active=active,
        status=status_for(active),
        risk_score=0,
        risk_factors=[],
        attributes=attributes,
        provenance=initial_provenance(data, source),
        version=1,
        created_at=now,
        updated_at=now,
        deleted_at=None,
    )
    return row


def snapshot(row: dict[str, Any]) -> dict[str, Any]:
    """The recorded view of an identity row (as `service.snapshot` records an object)."""
    doc = {name: row[name] for name in IDENTITY_COLUMNS}
    doc["status"] = row["status"]
    doc["attributes"] = dict(row["attributes"] or {})
    return doc


def link_row(
    tenant: str,
    source: str,
    external_id: str,
    now: datetime,
    run_id: str | None,
    **target: str | None,
) -> dict[str, Any]:
    """A row of a links table (`target`: identity_id=, group_id= or resource_id=, and the
    table's other columns)."""
    return {
        "tenant_id": tenant,
        "source": source,
        "external_id": external_id,
        "created_at": now,
        "seen_run": run_id,
        **target,
    }


async def insert_rows(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert complete rows (all with the same keys), straight through the driver."""
    await insert_many(session, table, rows)


async def update_identities(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Rewrite the mutable columns of whole identity rows, one executemany statement."""
    params = [
        {"tenant_id": r["tenant_id"], "id": r["id"], **{c: r[c] for c in MUTABLE}} for r in rows
    ]
    await update_many(session, IDENTITIES, ("tenant_id", "id"), params)


Change = tuple[str, dict[str, Any] | None, str, int, dict[str, Any] | None]


async def record_versions(
    session: AsyncSession,
    tenant: str,
    actor: str,
    source: str,
    now: datetime,
    changes: list[Change],
    *,
    events: bool = True,
) -> None:
    """A version row and (unless `events` is false) an event per (type, before, id, version, after).

    The event is `<type>.created` without a before, `<type>.deleted` without an after and
    `<type>.updated` otherwise; it carries the after snapshot.
    """
    versions, announced = [], []
    for kind, before, ident, version, after in changes:
        versions.append(
            {
                "tenant_id": tenant,
                "record_type": kind,
                "record_id": ident,
                "version": version,
                "actor": actor,
                "source": source,
                "before": before,
                "after": after,
                "at": now,
            }
        )
        verb = "created" if before is None else "deleted" if after is None else "updated"
        payload: dict[str, Any] = {"id": ident, "version": version, "source": source}
        if after is not None:
            payload["after"] = after
        announced.append(event_row(tenant, f"{kind}.{verb}", kind, ident, payload, now))
    await insert_rows(session, VERSIONS, versions)
    if events:
        await insert_rows(session, EVENTS, announced)


async def record_identity_changes(
    session: AsyncSession,
    tenant: str,
    actor: str,
    source: str,
    now: datetime,
    changes: list[tuple[dict[str, Any] | None, dict[str, Any]]],
    risk_before: dict[str, int],
) -> None:
    """Versions and events for identity rows, and `identity.risk_changed` where scores moved."""
    await record_versions(
        session,
        tenant,
        actor,
        source,
        now,
        [("identity", before, r["id"], r["version"], snapshot(r)) for before, r in changes],
    )
    moved = [
        event_row(
            tenant,
            "identity.risk_changed",
            "identity",
            r["id"],
            {
                "id": r["id"],
                "before": risk_before.get(r["id"], 0),
                "after": r["risk_score"],
                "factors": r["risk_factors"],
            },
            now,
        )
        for _, r in changes
        if r["risk_score"] != risk_before.get(r["id"], 0)
    ]
    await insert_rows(session, EVENTS, moved)


def event_row(
    tenant: str,
    kind: str,
    subject_type: str,
    subject_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """An events (outbox) row."""
    return {
        "tenant_id": tenant,
        "type": require(kind),
        "subject_type": subject_type,
        "subject_id": subject_id,
        "payload": payload,
        "created_at": now,
    }
