"""File imports: a prepared file through the sync engine into the store, recorded as a run.

An import is a sync run of the tenant's synthetic `imports` connection (no saved connection:
the file lives only in the request), with trigger `import`. It runs in the calling process under
a lease like any run, so a tenant has one import at a time (409 for a second), and an import
whose process died is marked failed by the next worker once the lease runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.connectors.builtin.files.upload import OpenedFile
from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.imports.prepare import Prepared
from gatehouse.imports.schemas import FileOut, ImportOut, RowError, StreamOut
from gatehouse.sync import runs
from gatehouse.sync.engine import Runner, Settings
from gatehouse.sync.models import SyncRun
from gatehouse.sync.plan import Job
from gatehouse.sync.tally import Tally, settled
from gatehouse.sync.worker import WHOLE_RUN_LEASE, Worker

IMPORTS = "imports"  # the connection id every import run of a tenant is recorded under
REPORT_LIMIT = 1000  # row-level problems listed in an answer (all are counted)
SHOWN = ("created", "updated", "skipped", "unchanged", "errors")  # counters always present


async def run_import(
    db: Database,
    actor: Actor,
    prepared: Prepared,
    settings: Settings,
    watch: Callable[[Runner], None] | None = None,
) -> ImportOut:
    """Import a prepared file; `watch` sees the engine's runner (its tally) as it starts."""
    options = prepared.options
    atomic = options.mode == "all_or_nothing"
    job = Job(
        tenant_id=actor.tenant_id,
        connection_id=IMPORTS,
        source=prepared.link_source,
        connector=OpenedFile(prepared.source),
        config={},
        streams=prepared.plans,
        remove_unseen=False,
        existing=options.duplicates,
        report_limit=REPORT_LIMIT,
    )

    async def job_for(_db: Database, _run: SyncRun) -> Job:
        return job

    worker = Worker(db, job_for, settings)
    lease = WHOLE_RUN_LEASE if atomic or options.dry_run else settings.lease_seconds
    async with db.transaction() as session:
        run = await runs.enqueue(
            session,
            actor.tenant_id,
            IMPORTS,
            mode=SyncMode.full_refresh,
            trigger="import",
            dry_run=options.dry_run,
            lease=(worker.owner, lease),
        )
        await session.flush()
        await _audit(session, actor, "import.started", run.id, prepared)
    spec = runs.spec_of(run, worker.owner)
    spec.atomic = atomic
    runners: list[Runner] = []

    def started(runner: Runner) -> None:
        runners.append(runner)
        if watch is not None:
            watch(runner)

    await worker.execute(run, spec, started)
    tally = runners[0].tally if runners else Tally()
    async with db.transaction() as session:
        final = await session.get(SyncRun, run.id, execution_options={TENANT: actor.tenant_id})
        assert final is not None
        out = _outcome(final, prepared, tally)
        await _audit(session, actor, "import.finished", run.id, prepared, out)
    return out


def _outcome(run: SyncRun, prepared: Prepared, tally: Tally) -> ImportOut:
    options, source = prepared.options, prepared.source
    succeeded = run.status == "succeeded"
    kinds = dict.fromkeys(plan.kind for plan in prepared.plans)
    shown = {kind: {**dict.fromkeys(SHOWN, 0), **tally.counts.get(kind, {})} for kind in kinds}
    counts, would = settled(shown, run.written)
    return ImportOut(
        run_id=run.id,
        status="succeeded" if succeeded else "failed",
        error=run.error,
        written=bool(run.written),
        dry_run=options.dry_run,
        mode=options.mode,
        duplicates=options.duplicates,
        source=prepared.link_source,
        file=FileOut(
            name=source.name,
            size=prepared.size,
            sha256=source.digest,
            format=source.format,
            encoding=source.encoding,
        ),
        streams=[
            StreamOut(name=plan.name, kind=plan.kind, rows=tally.rows.get(plan.name, 0))
            for plan in prepared.plans
        ],
        counts=counts,
        would_write=would,
        errors=[RowError.model_validate(entry) for entry in _in_file_order(prepared, tally)],
        errors_total=tally.reported,
    )


def _in_file_order(prepared: Prepared, tally: Tally) -> list[dict[str, Any]]:
    """The report by stream, then row (a batch's store errors come after its mapping errors)."""
    order = {plan.name: index for index, plan in enumerate(prepared.plans)}
    return sorted(tally.report, key=lambda e: (order.get(e["stream"], 0), e["row"] or 0))


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    run_id: str,
    prepared: Prepared,
    out: ImportOut | None = None,
) -> None:
    """Who imported which file (name, size, sha256) how, and, when finished, what it did."""
    options, source = prepared.options, prepared.source
    after = {
        "run_id": run_id,
        "file": source.name,
        "size": prepared.size,
        "sha256": source.digest,
        "format": source.format,
        "streams": [plan.name for plan in prepared.plans],
        "source": prepared.link_source,
        "mode": options.mode,
        "duplicates": options.duplicates,
        "dry_run": options.dry_run,
    }
    if out is not None:
        after.update(
            status=out.status, written=out.written, counts=out.counts, errors=out.errors_total
        )
    outcome = "failure" if out is not None and out.status == "failed" else "success"
    await audit.record(session, actor, action, "import", run_id, after=after, outcome=outcome)
