"""Loading many records at once (imports, demo data, load tests): one transaction, batched
inserts, the same versions, links and events as single writes, one audit entry per load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.events.models import Event
from gatehouse.identity.models import (
    Group,
    Identity,
    IdentityLink,
    Membership,
    RecordVersion,
    status_for,
)
from gatehouse.identity.rows import event_row
from gatehouse.identity.synthetic import SyntheticOrg
from gatehouse.kit.ids import new_id
from gatehouse.kit.problems import Problem

BATCH = 5_000
PROVENANCE_FIELDS = ("given_name", "family_name", "email", "title", "department", "cost_center")
T = TypeVar("T")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class LoadReport:
    """How many rows a load wrote."""

    identities: int
    groups: int
    memberships: int


def _chunks(rows: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


async def _insert(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], tick: Progress
) -> None:
    for chunk in _chunks(rows):
        await session.execute(insert(table), chunk)
        tick(len(chunk))


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


async def load_org(
    session: AsyncSession,
    actor: Actor,
    org: SyntheticOrg,
    *,
    source: str,
    tick: Progress = lambda _: None,
) -> LoadReport:
    """Write an organisation into a tenant; fails whole (e.g. on a taken userName)."""
    tenant, now = actor.tenant_id, datetime.now(UTC)
    ids = {p.employee_number: new_id() for p in org.people}
    people, links, versions, events = [], [], [], []
    for p in org.people:
        ident = ids[p.employee_number]
        row = {
            "id": ident,
            "tenant_id": tenant,
            "user_name": p.user_name,
            "user_name_key": p.user_name.lower(),
            "external_id": p.employee_number,
            "display_name": f"{p.given_name} {p.family_name}",
            "given_name": p.given_name,
            "family_name": p.family_name,
            "email": p.email,
            "title": p.title,
            "employee_number": p.employee_number,
            "department": p.department,
            "organization": "Example Corp",
            "cost_center": p.cost_center,
            "manager_id": ids[p.manager] if p.manager else None,
            "active": p.active,
            "status": status_for(p.active),
            "risk_score": 0,
            "attributes": {"location": p.location},
            "provenance": dict.fromkeys(PROVENANCE_FIELDS, source),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        people.append(row)
        links.append(
            {
                "tenant_id": tenant,
                "source": source,
                "external_id": p.employee_number,
                "identity_id": ident,
                "created_at": now,
            }
        )
        snapshot = {k: row[k] for k in ("user_name", "email", "department", "title", "active")}
        versions.append(_version(tenant, "identity", ident, actor, source, snapshot, now))
        events.append(_event(tenant, "identity.created", "identity", ident, source, now))
    group_ids = {g.name: new_id() for g in org.groups}
    groups: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for g in org.groups:
        gid = group_ids[g.name]
        groups.append(
            {
                "id": gid,
                "tenant_id": tenant,
                "display_name": g.name,
                "display_name_key": g.name.lower(),
                "external_id": None,
                "attributes": {},
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
            }
        )
        versions.append(
            _version(tenant, "group", gid, actor, source, {"display_name": g.name}, now)
        )
        events.append(_event(tenant, "group.created", "group", gid, source, now))
        if g.parent:
            members.append(
                {
                    "tenant_id": tenant,
                    "group_id": group_ids[g.parent],
                    "member_id": gid,
                    "member_type": "group",
                    "created_at": now,
                }
            )
        members.extend(
            {
                "tenant_id": tenant,
                "group_id": gid,
                "member_id": ids[e],
                "member_type": "identity",
                "created_at": now,
            }
            for e in g.members
        )
    try:
        for model, rows in (
            (Identity, people),
            (IdentityLink, links),
            (Group, groups),
            (Membership, members),
            (RecordVersion, versions),
            (Event, events),
        ):
            await _insert(session, _table(model), rows, tick)
    except IntegrityError:
        raise Problem(
            409,
            "Some of these people or groups are already in the store (same userName or group "
            "name); nothing was loaded. Load into an empty tenant or remove them first.",
        ) from None
    report = LoadReport(len(people), len(groups), len(members))
    await audit.record(
        session,
        actor,
        "identity.bulk_load",
        "tenant",
        tenant,
        after={"source": source, "seed": org.seed, **report.__dict__},
    )
    return report


def total_rows(org: SyntheticOrg) -> int:
    """Rows a load of `org` writes (for progress bars)."""
    members = sum(len(g.members) + (1 if g.parent else 0) for g in org.groups)
    return 4 * len(org.people) + 3 * len(org.groups) + members


def _version(
    tenant: str,
    kind: str,
    ident: str,
    actor: Actor,
    source: str,
    after: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "record_type": kind,
        "record_id": ident,
        "version": 1,
        "actor": actor.actor,
        "source": source,
        "before": None,
        "after": after,
        "at": now,
    }


def _event(
    tenant: str, type_: str, kind: str, ident: str, source: str, now: datetime
) -> dict[str, Any]:
    return event_row(tenant, type_, kind, ident, {"id": ident, "version": 1, "source": source}, now)
