"""Connections in the database: create, change, delete, credentials, health and discovery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.connections.mapping import Mapping, stream_doc
from gatehouse.connections.models import Connection, context
from gatehouse.connections.runner import Checked
from gatehouse.connections.schemas import ConnectionCreate, ConnectionUpdate, Status
from gatehouse.connections.spec import Spec, invalid, spec_of
from gatehouse.connectors.protocol import StreamInfo
from gatehouse.db.repository import TenantRepository
from gatehouse.db.tenancy import TENANT
from gatehouse.kit.destinations import changed, must_resend
from gatehouse.kit.ids import new_id
from gatehouse.kit.problems import Problem, not_found
from gatehouse.secrets.keyring import KeyRing
from gatehouse.secrets.service import hold_active_key, open_value
from gatehouse.sync import runs, scheduler
from gatehouse.sync.models import SyncSchedule

RESUME = (
    'resume it with PUT /pip/connections/{id} and {{"status": "active"}} '
    "(or `gatehouse connect resume {id}`)"
)


def cancelled_by_pause(connection_id: str) -> str:
    """Why a run of a paused connection was cancelled, and how to go on."""
    hint = RESUME.format(id=connection_id)
    return f"cancelled: the connection was paused; {hint}, then trigger a new run"


class ConnectionRepository(TenantRepository[Connection]):
    """One tenant's connections."""

    model = Connection


def _live(repo: ConnectionRepository) -> Select[Connection]:
    return repo.select().where(Connection.deleted_at.is_(None))


async def get_connection(session: AsyncSession, tenant_id: str, connection_id: str) -> Connection:
    """A live connection of the tenant, or 404 (another tenant's looks the same as none)."""
    repo = ConnectionRepository(session, tenant_id)
    row = (
        await session.execute(_live(repo).where(Connection.id == connection_id))
    ).scalar_one_or_none()
    if row is None:
        raise not_found("connection", connection_id)
    return row


async def find_by_name(session: AsyncSession, tenant_id: str, name: str) -> Connection | None:
    """A live connection by name."""
    repo = ConnectionRepository(session, tenant_id)
    stmt = _live(repo).where(Connection.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_connections(
    session: AsyncSession, tenant_id: str, after: Any, limit: int, type_name: str | None = None
) -> Sequence[Connection]:
    """A page of live connections, oldest first."""
    repo = ConnectionRepository(session, tenant_id)
    stmt = _live(repo)
    if type_name:
        stmt = stmt.where(Connection.type == type_name)
    return await repo.page(stmt, after, limit)


def _seal(ring: KeyRing, row: Connection, given: dict[str, Any]) -> dict[str, str]:
    return {
        name: ring.encrypt(str(value), context(row.tenant_id, row.id, name))
        for name, value in given.items()
    }


def _summary(spec: Spec, row: Connection) -> dict[str, Any]:
    """What the audit log records of a connection: never a secret."""
    return {
        "name": row.name,
        "type": row.type,
        "status": row.status,
        "config": row.config,
        "secrets": spec.shown(row.credentials),
    }


async def _unique_name(session: AsyncSession, tenant_id: str, name: str, own: str = "") -> None:
    other = await find_by_name(session, tenant_id, name)
    if other is not None and other.id != own:
        raise Problem(409, f"A connection named {name!r} exists already; pick another name.")


async def create_connection(
    session: AsyncSession, ring: KeyRing, actor: Actor, data: ConnectionCreate
) -> Connection:
    """Validate the configuration against the spec, seal its secrets and store it."""
    spec = spec_of(data.type)
    public, given, _ = spec.split(spec.defaults(data.config))
    errors = spec.validate(public, given, set())
    if errors:
        raise invalid(spec, errors)
    await _unique_name(session, actor.tenant_id, data.name)
    row = ConnectionRepository(session, actor.tenant_id).add(
        Connection(
            id=new_id(),  # now: the credentials are sealed to it
            name=data.name,
            type=data.type,
            config=public,
            status=data.status,
            mapping={},
            created_by=actor.actor,
        )
    )
    await hold_active_key(session, ring)
    row.credentials = _seal(ring, row, given)
    await _flush(session, data.name)
    await audit.record(
        session, actor, "connection.create", "connection", row.id, after=_summary(spec, row)
    )
    return row


async def update_connection(
    session: AsyncSession, ring: KeyRing, actor: Actor, connection_id: str, data: ConnectionUpdate
) -> Connection:
    """Change name, status or configuration; secrets left out are kept, unless the endpoint
    changed: stored credentials are never sent to a new destination."""
    row = await get_connection(session, actor.tenant_id, connection_id)
    spec = spec_of(row.type)
    before = _summary(spec, row)
    if data.name is not None and data.name != row.name:
        await _unique_name(session, actor.tenant_id, data.name, row.id)
        row.name = data.name
    if data.status is not None:
        await _apply_status(session, actor, row, data.status)
    if data.config is not None:
        public, given, cleared = spec.split(spec.defaults(data.config))
        kept = set(row.credentials) - cleared - set(given)
        errors = spec.validate(public, given, kept)
        moved = changed(row.config, public, spec.endpoint)
        errors += must_resend(moved, kept, "config", "null")
        if errors:
            raise invalid(spec, errors)
        await hold_active_key(session, ring)
        credentials = {k: v for k, v in row.credentials.items() if k in kept}
        row.config = public
        row.credentials = {**credentials, **_seal(ring, row, given)}
        if moved:
            row.discovered, row.discovered_at = None, None
    row.updated_at = datetime.now(UTC)
    await _flush(session, row.name)
    after = _summary(spec, row)
    await audit.record(
        session, actor, "connection.update", "connection", row.id, before=before, after=after
    )
    return row


async def _apply_status(
    session: AsyncSession, actor: Actor, row: Connection, status: Status
) -> list[str]:
    """Pause or resume: pausing cancels the queued runs (their ids), resuming skips the
    schedule's slots that passed while paused, so the next slot runs normally."""
    if status == row.status:
        return []
    row.status = status
    if status == "active":
        await scheduler.skip_past_slots(session, row.tenant_id, row.id)
        return []
    reason = cancelled_by_pause(row.id)
    cancelled = await runs.cancel_queued(session, row.tenant_id, row.id, reason)
    if cancelled:
        await audit.record(
            session, actor, "sync.cancel", "connection", row.id, after={"runs": cancelled}
        )
    return cancelled


async def change_status(
    session: AsyncSession, actor: Actor, connection_id: str, status: Status
) -> tuple[Connection, list[str]]:
    """Pause or resume a connection (audited like any change); the runs pausing cancelled."""
    row = await get_connection(session, actor.tenant_id, connection_id)
    spec = spec_of(row.type)
    before = _summary(spec, row)
    cancelled = await _apply_status(session, actor, row, status)
    row.updated_at = datetime.now(UTC)
    await audit.record(
        session,
        actor,
        "connection.update",
        "connection",
        row.id,
        before=before,
        after=_summary(spec, row),
    )
    return row, cancelled


def ensure_runnable(row: Connection) -> None:
    """409 for a paused connection: it does not sync until resumed."""
    if row.status == "paused":
        raise Problem(
            409,
            f"Connection {row.name!r} is paused; {RESUME.format(id=row.id)}, then trigger a sync "
            "again.",
            connection_status="paused",
        )


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Problem(
            409, f"A connection named {name!r} exists already; pick another name."
        ) from None


async def delete_connection(session: AsyncSession, actor: Actor, connection_id: str) -> None:
    """Soft-delete: the row stays for history, its credentials are destroyed, its name freed,
    and it stops syncing (its schedule goes; a run already going fails at its next use)."""
    row = await get_connection(session, actor.tenant_id, connection_id)
    row.deleted_at = datetime.now(UTC)
    row.credentials = {}
    row.status = "deleted"
    await session.execute(
        delete(SyncSchedule)
        .where(SyncSchedule.tenant_id == actor.tenant_id, SyncSchedule.connection_id == row.id)
        .execution_options(**{TENANT: actor.tenant_id})
    )
    await audit.record(
        session, actor, "connection.delete", "connection", row.id, before={"name": row.name}
    )


async def open_credentials(
    session: AsyncSession, ring: KeyRing, actor: Actor, row: Connection, purpose: str
) -> dict[str, Any]:
    """The full configuration, secrets decrypted, for a connector call; audited every time."""
    secrets = {
        name: await open_value(session, ring, token, context(row.tenant_id, row.id, name))
        for name, token in row.credentials.items()
    }
    if secrets:
        await audit.record(
            session,
            actor,
            "connection.credentials.read",
            "connection",
            row.id,
            after={"purpose": purpose, "fields": sorted(secrets)},
        )
    return {**row.config, **secrets}


async def record_check(
    session: AsyncSession, tenant_id: str, connection_id: str, checked: Checked
) -> Connection:
    """Store the outcome of a check as the connection's health."""
    row = await get_connection(session, tenant_id, connection_id)
    row.last_check_at = checked.at
    row.last_check_ok = checked.result.ok
    row.last_check_failure = checked.result.failure.value if checked.result.failure else None
    row.last_check_message = checked.result.message[:2000]
    return row


async def record_discovery(
    session: AsyncSession, tenant_id: str, connection_id: str, streams: list[StreamInfo]
) -> Connection:
    """Keep what discovery found, for mapping validation and the schema-changed check."""
    row = await get_connection(session, tenant_id, connection_id)
    row.discovered = [stream_doc(s) for s in streams]
    row.discovered_at = datetime.now(UTC)
    return row


async def store_mapping(
    session: AsyncSession, actor: Actor, connection_id: str, mapping: Mapping
) -> Connection:
    """Replace the mapping (validated by the caller against discovery)."""
    row = await get_connection(session, actor.tenant_id, connection_id)
    before = row.mapping
    row.mapping = mapping.model_dump(mode="json")
    row.updated_at = datetime.now(UTC)
    await audit.record(
        session, actor, "connection.mapping", "connection", row.id, before=before, after=row.mapping
    )
    return row
