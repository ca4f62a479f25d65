"""Connection routes: /pip/connections (reference 000's paths) and /pip/connectors."""

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.connections import operations, service
from gatehouse.connections.mapping import stream_doc, stream_info
from gatehouse.connections.models import Connection
from gatehouse.connections.runner import Checked
from gatehouse.connections.schemas import (
    CheckOut,
    ConnectionCreate,
    ConnectionOut,
    ConnectionTest,
    ConnectionUpdate,
    ConnectorOut,
    HealthOut,
    LastCheck,
    MappingIn,
    SchemaOut,
    StreamOut,
)
from gatehouse.connections.spec import describe, spec_of
from gatehouse.connectors.protocol import StreamInfo
from gatehouse.connectors.registry import registry
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.kit.problems import Problem
from gatehouse.services import Services

T = TypeVar("T")


def connection_out(row: Connection) -> ConnectionOut:
    """A connection as the API shows it: secrets only as set or not set."""
    return ConnectionOut(
        id=row.id,
        name=row.name,
        type=row.type,
        status=row.status,
        config=row.config,
        secrets=spec_of(row.type).shown(row.credentials),
        mapping=row.mapping,
        last_check=LastCheck(
            ok=row.last_check_ok,
            failure=row.last_check_failure,
            message=row.last_check_message,
            checked_at=row.last_check_at,
        ),
        discovered_at=row.discovered_at,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def check_out(checked: Checked) -> dict[str, Any]:
    """The fields of a CheckOut."""
    return {
        "ok": checked.result.ok,
        "failure": checked.result.failure,
        "message": checked.result.message,
        "hint": checked.hint,
        "details": checked.details,
        "checked_at": checked.at,
        "duration_ms": checked.duration_ms,
    }


def schema_out(row: Connection, streams: list[StreamInfo]) -> SchemaOut:
    """Discovered streams, with the mapping's sensitivity overrides applied."""
    overrides = {
        name: chosen.get("sensitivity") or {}
        for name, chosen in (row.mapping.get("streams") or {}).items()
    }
    shown = []
    for info in streams:
        doc = stream_doc(info)
        for field in doc["fields"]:
            field["sensitivity"] = overrides.get(info.name, {}).get(
                field["name"], field["sensitivity"]
            )
        shown.append(StreamOut.model_validate(doc))
    assert row.discovered_at is not None
    return SchemaOut(connection_id=row.id, discovered_at=row.discovered_at, streams=shown)


def build_router(svc: Services) -> APIRouter:
    """Routes under /pip/connections and /pip/connectors."""
    router = APIRouter(prefix="/pip", tags=["connections"])
    Reader = Annotated[Principal, Depends(authenticator(svc, "connections:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "connections:write"))]

    def ops() -> operations.Connections:
        return operations.Connections(svc.db, svc.keys, svc.settings)

    async def audited(
        request: Request, who: Principal, action: str, target: str, work: Awaitable[T]
    ) -> T:
        """Run an operation that commits on its own; a refusal is audited like svc.write's."""
        try:
            return await work
        except Problem as exc:
            await svc.audit_problem(request, who, action, "connection", target, exc)
            raise

    @router.get("/connectors")
    async def list_connectors(who: Reader) -> list[ConnectorOut]:
        """Installed connector types with the JSON Schema of their configuration."""
        found = []
        for name, kind in sorted(registry().items()):
            spec = describe(name, kind)
            found.append(
                ConnectorOut(
                    name=name,
                    title=spec.title,
                    spec=spec.schema,
                    secret_fields=sorted(spec.secrets),
                )
            )
        return found

    @router.post("/connections", status_code=201, responses=problems(409, 422))
    async def create_connection(
        body: ConnectionCreate, request: Request, who: Writer
    ) -> ConnectionOut:
        """Create a connection; the configuration is checked against the connector's spec and
        its secret fields are stored encrypted (test it with GET .../health)."""
        async with svc.write(request, who, "connection.create", "connection", body.name) as (
            session,
            actor,
        ):
            row = await service.create_connection(session, svc.keys, actor, body)
            return connection_out(row)

    @router.get("/connections", responses=problems(400))
    async def list_connections(
        who: Reader,
        type: Annotated[str | None, Query(description="Only this connector type.")] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[ConnectionOut]:
        """List the tenant's connections."""
        async with svc.read() as session:
            rows = await service.list_connections(
                session, who.tenant_id, decode_cursor(cursor), limit, type
            )
        return paginate(rows, limit, connection_out)

    @router.post("/connections/test", responses=problems(422))
    async def test_connection(body: ConnectionTest, request: Request, who: Writer) -> CheckOut:
        """Test an unsaved configuration: connect for real and say what is wrong, if anything.

        A failed check is still a 200 answer: `ok` is false, `failure` classifies it.
        """
        actor = svc.actor(request, who)
        work = operations.test_unsaved(ops(), actor, body.type, body.config)
        checked = await audited(request, who, "connection.test", body.type, work)
        return CheckOut(**check_out(checked))

    @router.get("/connections/{connection_id}", responses=problems(404))
    async def get_connection(connection_id: str, who: Reader) -> ConnectionOut:
        """One connection."""
        async with svc.read() as session:
            row = await service.get_connection(session, who.tenant_id, connection_id)
        return connection_out(row)

    @router.put("/connections/{connection_id}", responses=problems(404, 409, 422))
    async def update_connection(
        connection_id: str, body: ConnectionUpdate, request: Request, who: Writer
    ) -> ConnectionOut:
        """Change a connection. A secret field left out of `config` keeps its stored value,
        unless the host (or another endpoint field) changes: then it must be sent again.
        `status` paused stops its syncs (queued runs are cancelled, its schedule's slots pass
        without a run, triggering answers 409) until it is set back to active."""
        async with svc.write(request, who, "connection.update", "connection", connection_id) as (
            session,
            actor,
        ):
            row = await service.update_connection(session, svc.keys, actor, connection_id, body)
            return connection_out(row)

    @router.delete("/connections/{connection_id}", status_code=204, responses=problems(404))
    async def delete_connection(connection_id: str, request: Request, who: Writer) -> None:
        """Delete a connection: its credentials are destroyed and its name is free again."""
        async with svc.write(request, who, "connection.delete", "connection", connection_id) as (
            session,
            actor,
        ):
            await service.delete_connection(session, actor, connection_id)

    @router.get("/connections/{connection_id}/health", responses=problems(404))
    async def connection_health(connection_id: str, request: Request, who: Reader) -> HealthOut:
        """Check a saved connection now (its credentials are used, and that is audited)."""
        actor = svc.actor(request, who)
        work = operations.health(ops(), actor, connection_id)
        row, checked = await audited(request, who, "connection.health", connection_id, work)
        return HealthOut(**check_out(checked), connection_id=row.id, status=row.status)

    @router.get("/connections/{connection_id}/schema", responses=problems(404, 502, 504))
    async def connection_schema(
        connection_id: str,
        request: Request,
        who: Reader,
        refresh: Annotated[
            bool, Query(description="Discover now (false: the last discovery, if any).")
        ] = True,
    ) -> SchemaOut:
        """Discover the streams the source offers: fields, types, keys, cursor candidates,
        suggested kind and sensitivity (with the mapping's overrides)."""
        if not refresh:
            async with svc.read() as session:
                row = await service.get_connection(session, who.tenant_id, connection_id)
            if row.discovered is not None:
                return schema_out(row, [stream_info(doc) for doc in row.discovered])
        actor = svc.actor(request, who)
        work = operations.discover(ops(), actor, connection_id)
        row, streams = await audited(request, who, "connection.discover", connection_id, work)
        return schema_out(row, streams)

    @router.put("/connections/{connection_id}/mapping", responses=problems(404, 422, 502, 504))
    async def put_mapping(
        connection_id: str, body: MappingIn, request: Request, who: Writer
    ) -> ConnectionOut:
        """Choose streams and fields, override sensitivity per field, and give each stream's
        sync mode, cursor and transform; checked against the discovered schema."""
        actor = svc.actor(request, who)
        work = operations.map_streams(ops(), actor, connection_id, body)
        row = await audited(request, who, "connection.mapping", connection_id, work)
        return connection_out(row)

    return router
