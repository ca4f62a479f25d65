"""A saved connection as a sync job: credentials opened (audited), mapping compiled."""

from __future__ import annotations

from gatehouse.audit.context import Actor
from gatehouse.connections import runner, service
from gatehouse.connections.mapping import Mapping, selection
from gatehouse.connections.operations import Connections
from gatehouse.connectors.protocol import SyncMode
from gatehouse.connectors.transform import MappingError
from gatehouse.db.engine import Database
from gatehouse.kit.problems import Problem
from gatehouse.sync.mapping import stream_transform
from gatehouse.sync.models import SyncRun
from gatehouse.sync.plan import Job, StreamPlan
from gatehouse.sync.worker import JobCancelled, JobFactory, JobUnavailable
from gatehouse.tenants.status import inactive


def job_factory(ops: Connections) -> JobFactory:
    """Jobs for runs of saved connections."""

    async def job_for(_db: Database, run: SyncRun) -> Job:
        if run.trigger == "import":  # its process held the upload and stopped: nothing to resume
            raise JobUnavailable(
                "the import stopped before it finished (its server was stopped or crashed); "
                "import the file again"
            )
        actor = Actor(run.tenant_id, f"sync:{run.id}")
        async with ops.db.transaction() as session:
            if await inactive(session, [run.tenant_id]):  # suspended or deleted since queued
                raise JobCancelled(f"tenant {run.tenant_id!r} is not active")
            try:
                row = await service.get_connection(session, run.tenant_id, run.connection_id)
            except Problem:
                raise JobUnavailable("the connection no longer exists") from None
            if row.status == "paused":  # paused after this run was queued or claimed
                raise JobCancelled(service.cancelled_by_pause(row.id))
            config = await service.open_credentials(
                session, ops.ring, actor, row, f"sync run {run.id}"
            )
        mapping = Mapping.model_validate(row.mapping or {})
        if not mapping.streams:
            raise JobUnavailable(
                "the connection maps no streams: PUT /pip/connections/{id}/mapping first"
            )
        streams = []
        for name, chosen in mapping.streams.items():
            if not chosen.transform:
                raise JobUnavailable(f"stream {name!r} has no transform in the mapping")
            try:
                transform = stream_transform(chosen.transform)
            except MappingError as exc:
                raise JobUnavailable(f"stream {name!r}: {exc}") from None
            streams.append(
                StreamPlan(
                    name,
                    str(chosen.transform.get("kind", "identity")),
                    transform,
                    incremental=chosen.sync_mode is SyncMode.incremental,
                    selection=selection(chosen),
                    on_error=str(chosen.transform.get("on_error", "skip")),
                )
            )
        return Job(
            tenant_id=row.tenant_id,
            connection_id=row.id,
            source=row.id,
            connector=runner.connector(row.type, ops.env(row.tenant_id)),
            config=config,
            streams=streams,
            max_delete_fraction=ops.settings.sync_max_delete_fraction,
        )

    return job_for
