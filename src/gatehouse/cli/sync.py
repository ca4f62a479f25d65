"""`gatehouse worker` and `gatehouse sync run`: background work and foreground syncs."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import structlog
import typer

from gatehouse.cli.common import console, counts_table, fail, run, settings
from gatehouse.cli.connect import Ref, Tenant, connections, resolve
from gatehouse.cli.progress import follow
from gatehouse.connections.operations import Connections
from gatehouse.connections.service import ensure_runnable, get_connection
from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.tenancy import TENANT
from gatehouse.observability.logging import configure
from gatehouse.sync import runs
from gatehouse.sync.engine import Runner
from gatehouse.sync.jobs import job_factory
from gatehouse.sync.models import SyncRun
from gatehouse.sync.schemas import RunOut
from gatehouse.sync.tasks import background_worker, run_settings
from gatehouse.sync.worker import Worker
from gatehouse.webhooks.worker import WebhookWorker

log = structlog.get_logger("gatehouse.worker")
sync_app = typer.Typer(help="Run syncs in the foreground.", no_args_is_help=True)


def worker() -> None:
    """Run the background worker until stopped: fire due sync schedules and execute queued
    runs, and (unless GATEHOUSE_WEBHOOKS_WORKER=false) deliver webhooks."""
    cfg = settings()
    # A service, not a one-off command: it logs as `serve` does (GATEHOUSE_LOG_LEVEL, JSON lines
    # unless GATEHOUSE_LOG_JSON=false), and an error that stops it is one masked log line.
    configure(cfg.log_level, cfg.log_json)

    async def main() -> None:
        async with connections(cfg) as ops:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            work = background_worker(ops.db, ops, cfg)
            hooks = WebhookWorker(ops.db, cfg, lambda: ops.ring) if cfg.webhooks_worker else None

            def stopping() -> None:
                stop.set()
                if hooks is not None:
                    hooks.wake.set()

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stopping)
            # A log line like every other, so a JSON log stream holds nothing else.
            log.info("worker_started", owner=work.owner, webhooks=hooks is not None)
            try:
                await asyncio.gather(
                    work.run_forever(stop), *([hooks.run(stop)] if hooks is not None else [])
                )
            finally:
                if hooks is not None:
                    await hooks.close()

    try:
        run(main())
    except typer.Exit:
        raise
    except Exception:
        log.exception("worker_failed")
        raise typer.Exit(1) from None


@sync_app.command("run")
def sync_run(
    ref: Ref,
    tenant: Tenant,
    full: Annotated[bool, typer.Option(help="Full refresh (with deletion detection).")] = False,
    dry_run: Annotated[bool, typer.Option(help="Report what would change; write nothing.")] = False,
    confirm_deletes: Annotated[
        bool, typer.Option(help="Allow deletions over the safety threshold.")
    ] = False,
) -> None:
    """Sync one connection now, showing live counts; exits 1 when the run does not succeed."""

    async def main() -> SyncRun:
        async with connections() as ops:
            connection_id = await resolve(ops, tenant, ref)
            async with ops.db.transaction() as session:
                ensure_runnable(await get_connection(session, tenant, connection_id))
                queued = await runs.enqueue(
                    session,
                    tenant,
                    connection_id,
                    mode=SyncMode.full_refresh if full else SyncMode.incremental,
                    trigger="cli",
                    dry_run=dry_run,
                    confirm_deletes=confirm_deletes,
                )
                await session.flush()
                run_id = queued.id
            return await _execute(ops, run_id)

    final = run(main())
    out = RunOut.model_validate(final)
    title = f"sync of {ref}: {out.status}" + (" (dry run)" if out.dry_run else "")
    console.print(counts_table(title, out.counts))
    if out.would_write is not None:
        why = "dry run" if out.dry_run else "all or nothing"
        console.print(f"{why}: nothing written; it would have written:")
        console.print(counts_table(None, out.would_write))
    if out.error:
        fail(out.error, code=1)


async def _execute(ops: Connections, run_id: str) -> SyncRun:
    work = Worker(ops.db, job_factory(ops), run_settings(ops.settings), owner=f"cli:{run_id}")
    claimed = await runs.claim(ops.db, work.owner, work.settings.lease_seconds, run_id)
    if claimed is None:
        fail("a worker took this run first; follow it with `gatehouse sync status`")
    row, spec = claimed
    watched: list[Runner] = []
    task = asyncio.create_task(work.execute(row, spec, watched.append))
    await follow(task, lambda: watched[0].tally if watched else None, "reading")
    async with ops.db.transaction(write=False) as session:
        final = await session.get(SyncRun, run_id, execution_options={TENANT: spec.tenant_id})
    assert final is not None
    return final
