"""Connector calls on connections, for the API and the CLI alike.

Each commits before and after the network call, never across it: a slow source must not hold
a database transaction (or SQLite's write lock) open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.connections import runner, service
from gatehouse.connections.mapping import Mapping as StreamsMapping
from gatehouse.connections.mapping import selection, stream_info, validate_mapping
from gatehouse.connections.models import Connection
from gatehouse.connections.spec import invalid, spec_of
from gatehouse.connectors.environment import Environment
from gatehouse.connectors.protocol import Batch, StreamInfo, SyncMode
from gatehouse.db.engine import Database
from gatehouse.kit.problems import Problem
from gatehouse.secrets.keyring import KeyRing


@dataclass(frozen=True)
class Connections:
    """What connection operations need: the database, the key ring and the settings."""

    db: Database
    ring: KeyRing
    settings: Settings

    def env(self, tenant: str) -> Environment:
        """What `tenant`'s connectors may reach (its own source directories only)."""
        return Environment.from_settings(self.settings, tenant)


async def test_unsaved(
    ops: Connections, actor: Actor, type_name: str, config: Mapping[str, Any]
) -> runner.Checked:
    """Check a configuration that is not stored (its secrets are used once and forgotten)."""
    spec = spec_of(type_name)
    public, given, _ = spec.split(spec.defaults(config))
    errors = spec.validate(public, given, set())
    if errors:
        raise invalid(spec, errors)
    env = ops.env(actor.tenant_id)
    timeout = ops.settings.connector_check_timeout
    checked = await runner.check(type_name, {**public, **given}, env, timeout)
    async with ops.db.transaction() as session:
        await audit.record(
            session,
            actor,
            "connection.test",
            "connector",
            type_name,
            after=_outcome(checked),
            outcome="success" if checked.result.ok else "failure",
        )
    return checked


async def _config(
    ops: Connections, actor: Actor, connection_id: str, purpose: str
) -> tuple[Connection, dict[str, Any]]:
    async with ops.db.transaction() as session:
        row = await service.get_connection(session, actor.tenant_id, connection_id)
        config = await service.open_credentials(session, ops.ring, actor, row, purpose)
    return row, config


async def health(
    ops: Connections, actor: Actor, connection_id: str
) -> tuple[Connection, runner.Checked]:
    """Check a saved connection now and keep the outcome as its health."""
    row, config = await _config(ops, actor, connection_id, "health check")
    checked = await runner.check(
        row.type, config, ops.env(row.tenant_id), ops.settings.connector_check_timeout
    )
    async with ops.db.transaction() as session:
        row = await service.record_check(session, actor.tenant_id, connection_id, checked)
    return row, checked


async def discover(
    ops: Connections, actor: Actor, connection_id: str
) -> tuple[Connection, list[StreamInfo]]:
    """Discover what a connection's source offers now, and keep it."""
    row, config = await _config(ops, actor, connection_id, "schema discovery")
    streams = await runner.discover(
        row.type, config, ops.env(row.tenant_id), ops.settings.connector_discover_timeout
    )
    async with ops.db.transaction() as session:
        row = await service.record_discovery(session, actor.tenant_id, connection_id, streams)
    return row, streams


async def map_streams(
    ops: Connections, actor: Actor, connection_id: str, mapping: StreamsMapping
) -> Connection:
    """Store a mapping that fits the discovered schema (discovering first when never done)."""
    async with ops.db.transaction(write=False) as session:
        row = await service.get_connection(session, actor.tenant_id, connection_id)
        stored = row.discovered
    if stored is None:
        _, streams = await discover(ops, actor, connection_id)
    else:
        streams = [stream_info(doc) for doc in stored]
    errors = validate_mapping(mapping, streams)
    if errors:
        raise Problem(
            422,
            "The mapping does not fit the connection's schema; see errors "
            "(GET /pip/connections/{id}/schema shows it).",
            errors=errors,
        )
    async with ops.db.transaction() as session:
        return await service.store_mapping(session, actor, connection_id, mapping)


async def read_stream(
    ops: Connections,
    actor: Actor,
    connection_id: str,
    stream: str,
    state: Mapping[str, Any] | None,
) -> AsyncIterator[Batch]:
    """Batches of a mapped stream, as its mapping selects them (for the sync engine)."""
    row, config = await _config(ops, actor, connection_id, f"sync of {stream}")
    chosen = StreamsMapping.model_validate(row.mapping).streams.get(stream)
    if chosen is None:
        raise Problem(422, f"Stream {stream!r} is not in the connection's mapping.")
    source = runner.connector(row.type, ops.env(row.tenant_id))
    mode = SyncMode(chosen.sync_mode)
    async for batch in source.read(config, stream, mode, state, selection(chosen)):
        yield batch


def _outcome(checked: runner.Checked) -> dict[str, Any]:
    result = checked.result
    return {
        "ok": result.ok,
        "failure": result.failure.value if result.failure else None,
        "message": result.message,
    }
