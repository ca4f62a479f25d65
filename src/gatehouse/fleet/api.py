"""Routes: OPA's status and decision-log uploads, the fleet status and the decision log."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from gatehouse.audit import service as audit
from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.fleet import decisionlog, export, status
from gatehouse.fleet.decisionlog import DecisionFilter
from gatehouse.fleet.revisions import Remembered
from gatehouse.fleet.schemas import (
    DecisionOut,
    DecisionUpload,
    FleetStatus,
    OpaStatusReport,
    StatusAccepted,
)
from gatehouse.fleet.service import Redactors, store_upload, upload_rows
from gatehouse.fleet.view import instance_view
from gatehouse.kit.http import ISO, Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, encode_cursor, paginate
from gatehouse.kit.problems import Problem, not_found
from gatehouse.services import Services

LOGS_PATH = "/opa/logs"
STATUS_PATH = "/opa/status"
EXPORT_MAX = 1_000_000
Partition = Annotated[str, Path(max_length=200, description="OPA's `partition_name`.")]
Time = Annotated[datetime | None, ISO, Query(description="RFC 3339; decisions at or after it.")]
Until = Annotated[datetime | None, ISO, Query(description="RFC 3339; decisions before it.")]
LOG_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A JSON array of OPA decision events, gzip-compressed as OPA sends it "
        "(`Content-Encoding: gzip`) or plain.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["decision_id", "timestamp"],
                        "properties": {
                            "decision_id": {"type": "string"},
                            "timestamp": {"type": "string", "format": "date-time"},
                            "labels": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "path": {"type": "string"},
                            "input": {},
                            "result": {},
                            "erased": {"type": "array", "items": {"type": "string"}},
                            "masked": {"type": "array", "items": {"type": "string"}},
                            "metrics": {"type": "object"},
                        },
                    },
                }
            }
        },
    }
}


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_router(svc: Services) -> APIRouter:
    """Routes under /opa, /v1/distribution/status and /v1/decisions."""
    router = APIRouter(tags=["OPA fleet"])
    Reporter = Annotated[Principal, Depends(authenticator(svc, "fleet:report"))]
    FleetReader = Annotated[Principal, Depends(authenticator(svc, "fleet:read"))]
    LogReader = Annotated[Principal, Depends(authenticator(svc, "decisions:read"))]
    redactors = Redactors(svc.db, svc.settings.decision_log_mask_from)
    # SQLite has one writer at a time: uploads queue here instead of in its busy handler.
    queue = asyncio.Lock() if svc.db.is_sqlite else None
    settings = svc.settings

    async def report(
        request: Request, who: Principal, body: OpaStatusReport, partition: str
    ) -> StatusAccepted:
        instance_id = body.labels["id"]
        now = datetime.now(UTC)
        action = "opa.status"
        # Asked before the write: answering may read the store, which must not wait on it.
        source = Remembered(svc.served_revisions)
        for name in status.reported_bundles(body):
            await source.current(who.tenant_id, name)
        async with svc.write(request, who, action, "opa_instance", instance_id) as (s, actor):
            row = await status.record(s, who.tenant_id, body, partition, source, now)
            revisions = {n: b.get("active_revision", "") for n, b in row.bundles.items()}
            failing = sorted(n for n, b in row.bundles.items() if b.get("code"))
            after = {"bundles": revisions, "version": row.version, "failing": failing}
            await audit.record(s, actor, action, "opa_instance", instance_id, after=after)
        return StatusAccepted(instance_id=instance_id, bundles=revisions, received_at=now)

    @router.post(
        STATUS_PATH,
        summary="Receive an OPA status report",
        responses=problems(400, 413, 422),
    )
    async def opa_status(request: Request, who: Reporter, body: OpaStatusReport) -> StatusAccepted:
        """OPA's status plugin posts here (`status.service` pointing at Gatehouse): labels
        (`id` names the instance), bundle revisions, download and activation times and
        errors, plugin states, metrics. The latest report of each instance is kept."""
        return await report(request, who, body, "")

    @router.post(
        STATUS_PATH + "/{partition}",
        summary="Receive an OPA status report (partitioned)",
        responses=problems(400, 413, 422),
    )
    async def opa_status_partition(
        request: Request, who: Reporter, body: OpaStatusReport, partition: Partition
    ) -> StatusAccepted:
        """The same, for OPAs configured with `status.partition_name`."""
        return await report(request, who, body, partition)

    async def upload(request: Request, who: Principal) -> DecisionUpload:
        raw = await request.body()
        encoding = request.headers.get("content-encoding", "")
        try:
            redactor = await redactors.of(who.tenant_id)
            rows = await upload_rows(raw, encoding, settings, redactor)
        except Problem as exc:
            await svc.audit_problem(request, who, "decision_log.upload", "opa_instance", "", exc)
            raise
        if not rows:
            return DecisionUpload(received=0, stored=0, duplicates=0)

        def unit(target: str) -> Any:
            return svc.write(request, who, "decision_log.upload", "opa_instance", target)

        stored = await store_upload(unit, who.tenant_id, rows, queue)
        return DecisionUpload(
            received=stored.received, stored=stored.stored, duplicates=stored.duplicates
        )

    @router.post(
        LOGS_PATH,
        summary="Receive OPA decision logs",
        responses=problems(400, 413, 415, 422),
        openapi_extra=LOG_BODY,
    )
    async def opa_logs(request: Request, who: Reporter) -> DecisionUpload:
        """OPA's decision-log plugin posts gzip-compressed JSON arrays of decision events here.
        An upload is stored whole or not at all; a decision id already stored is counted as a
        duplicate, not an error, so OPA may resend a chunk. Inputs are stored redacted per the
        tenant's sensitivity classification (restricted fields erased)."""
        return await upload(request, who)

    @router.post(
        LOGS_PATH + "/{partition}",
        summary="Receive OPA decision logs (partitioned)",
        responses=problems(400, 413, 415, 422),
        openapi_extra=LOG_BODY,
    )
    async def opa_logs_partition(
        request: Request, who: Reporter, partition: Partition
    ) -> DecisionUpload:
        """The same, for OPAs configured with `decision_logs.partition_name`."""
        return await upload(request, who)

    @router.get(
        "/v1/distribution/status",
        summary="Show the OPA fleet's status",
        responses=problems(400, 422),
    )
    async def fleet_status(
        who: FleetReader,
        stale: Annotated[
            bool | None, Query(description="true: only instances silent for too long.")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> FleetStatus:
        """Every OPA instance that reported: the active revision of each bundle against the
        revision Gatehouse serves, whether it is behind, by how many revisions and since when,
        errors of its last download or activation, and whether it went silent (stale)."""
        after = decode_cursor(cursor)
        now = datetime.now(UTC)
        stale_after = settings.opa_status_interval_seconds * settings.opa_stale_intervals
        cutoff = now - timedelta(seconds=stale_after)
        async with svc.read() as session:
            rows = await status.instances(
                session,
                who.tenant_id,
                str(after) if after is not None else None,
                limit + 1,
                cutoff,
                stale,
            )
            counts = await status.counts(session, who.tenant_id, cutoff)
        shown = rows[:limit]
        source = Remembered(svc.served_revisions)  # instances share bundles and revisions
        items = [await instance_view(source, r, now, stale_after) for r in shown]
        more = len(rows) > limit and bool(shown)
        return FleetStatus(
            items=items,
            next_cursor=encode_cursor(shown[-1].instance_id) if more else None,
            instances=counts.instances,
            stale=counts.stale,
            stale_after_seconds=stale_after,
        )

    def decision_filter(
        start: Time = None,
        end: Until = None,
        path: Annotated[str | None, Query(max_length=1000, description="Decision path.")] = None,
        decision_id: Annotated[str | None, Query(max_length=128)] = None,
        instance: Annotated[
            str | None, Query(max_length=200, description="OPA instance (`labels.id`).")
        ] = None,
        engine: Annotated[
            str | None, Query(max_length=32, description="`opa`, or a Gatehouse engine.")
        ] = None,
    ) -> DecisionFilter:
        return DecisionFilter(
            start=_aware(start),
            end=_aware(end),
            path=path,
            decision_id=decision_id,
            instance_id=instance,
            engine=engine,
        )

    Filter = Annotated[DecisionFilter, Depends(decision_filter)]

    @router.get("/v1/decisions", summary="Search the decision log", responses=problems(400, 422))
    async def decisions(
        who: LogReader, flt: Filter, cursor: Cursor = None, limit: Limit = 100
    ) -> Page[DecisionOut]:
        """The tenant's decisions, newest first: by time range (`start` inclusive, `end`
        exclusive), path, decision id, OPA instance or engine."""
        after = decisionlog.parse_cursor_key(decode_cursor(cursor))
        async with svc.read() as session:
            rows = await decisionlog.search(session, who.tenant_id, flt, after, limit + 1)
        page = paginate(rows, limit, DecisionOut.model_validate, key="seq")
        if page.next_cursor is not None:
            page.next_cursor = encode_cursor(decisionlog.cursor_key(rows[limit - 1]))
        return page

    @router.get(
        "/v1/decisions/export",
        summary="Export decisions in OPA's decision-log event format",
        responses={
            200: {
                "description": "One OPA decision event per line (or a JSON array).",
                "content": {"application/x-ndjson": {}, "application/json": {}},
            },
            **problems(400, 422),
        },
        response_class=StreamingResponse,
    )
    async def export_decisions(
        who: LogReader,
        flt: Filter,
        format: Annotated[
            Literal["ndjson", "json"],
            Query(description="`ndjson`: a line per event; `json`: an array, as OPA uploads."),
        ] = "ndjson",
        limit: Annotated[
            int, Query(ge=1, le=EXPORT_MAX, description="Most events exported.")
        ] = 100_000,
    ) -> StreamingResponse:
        """Matching decisions, newest first, as OPA logs them (labels, decision_id, bundles,
        path, input, result, erased, masked, timestamp, metrics, ...): for replay or for tools
        that read OPA's decision logs."""
        lines = export.ndjson(svc.db, who.tenant_id, flt, limit)
        if format == "json":
            return StreamingResponse(export.json_array(lines), media_type="application/json")
        return StreamingResponse(lines, media_type="application/x-ndjson")

    @router.get("/v1/decisions/{decision_id}", summary="Show one decision", responses=problems(404))
    async def decision(decision_id: str, who: LogReader) -> DecisionOut:
        """One decision of the tenant by its decision id."""
        async with svc.read() as session:
            row = await decisionlog.one(session, who.tenant_id, decision_id)
        if row is None:
            raise not_found("decision", decision_id)
        return DecisionOut.model_validate(row)

    return router
