"""Running a sync: read each stream, map it, write each batch with its checkpoint, detect deletions.

Every batch is one transaction holding the records, the run's progress (the checkpoint that
follows them) and the lease renewal, so a crash never skips or applies a batch twice and a
resumed run continues where the last commit left it. A worker that lost its lease (another one
took the run over) finds out on its next commit and stops without writing.

Dry runs and atomic runs (all or nothing, for imports) use one transaction for the whole run:
a dry run rolls it back at the end, an atomic run commits it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.connectors.protocol import Batch, ConnectorError, RecordError, SyncMode
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.correlation import policy_for
from gatehouse.identity.ingest import IngestReport, SourceRecord, ingest_identities
from gatehouse.identity.ingest_groups import (
    KnownLinks,
    MembershipRecord,
    ingest_groups,
    ingest_memberships,
)
from gatehouse.identity.ingest_resources import ingest_resources
from gatehouse.identity.managers import resolve_managers
from gatehouse.identity.rescore import rescore_members
from gatehouse.identity.unseen import SafetyThresholdExceeded, remove_unseen
from gatehouse.sync import rescoring
from gatehouse.sync.ahead import read_ahead
from gatehouse.sync.models import StreamCursor, SyncRun
from gatehouse.sync.plan import Job, Rejected, StreamPlan, Transformed
from gatehouse.sync.tally import Tally

log = structlog.get_logger("gatehouse.sync")
TRANSIENT = (ConnectionError, TimeoutError, OSError)


class LeaseLost(Exception):
    """Another worker took this run over (our lease expired)."""


class RunFailed(Exception):
    """The run cannot go on; the message says why and what to do."""


class RunRefused(RunFailed):
    """Deletion detection was refused by the safety threshold."""


@dataclass
class RunSpec:
    """The run being executed, as claimed."""

    id: str
    tenant_id: str
    mode: SyncMode
    dry_run: bool
    confirm_deletes: bool
    progress: dict[str, Any]
    owner: str
    atomic: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # so far, when resumed
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Settings:
    """How a run behaves: lease length, retries, backoff and rescoring batches."""

    lease_seconds: float = 60.0
    retries: int = 3
    backoff_seconds: float = 1.0
    rescore_batch: int = 500  # identities rescored per transaction at the end of a run
    # Awaited after each rescoring transaction commits (progress reports, tests).
    after_rescore_batch: Callable[[], Awaitable[None]] | None = None


class Runner:
    """Executes one claimed run of one job."""

    def __init__(self, db: Database, job: Job, run: RunSpec, settings: Settings) -> None:
        self.db, self.job, self.run, self.settings = db, job, run, settings
        self.actor = Actor(job.tenant_id, f"sync:{job.connection_id}")
        self.tally = Tally(
            {k: dict(v) for k, v in run.counts.items()},
            list(run.samples),
            report_limit=job.report_limit,
        )
        self._whole: AsyncSession | None = None
        # Identities created or changed, and members whose groups moved: scored once at the
        # end of the run rather than batch by batch.
        self._rescore: dict[str, str] = {}
        self._recorded: dict[str, str] = {}  # of those, the ones written as pending
        self._resumed = bool(run.progress)
        # Source ids linked by this run's own batches, so memberships need not look them up.
        self._links = KnownLinks()

    async def execute(self) -> Tally:
        """Run every stream, then deletion detection; raises on failure.

        An atomic run fails as a whole, writing nothing, when any record was rejected.
        """
        if self.run.dry_run or self.run.atomic:
            async with self.db.writer() as session:
                self._whole = session
                try:
                    await self._streams()
                    if self.run.atomic and (failed := self.tally.failed()):
                        would = "would write" if self.run.dry_run else "wrote"
                        raise RunFailed(
                            f"{failed} record{'s' * (failed != 1)} failed and this run is all "
                            f"or nothing, so it {would} nothing; fix "
                            f"{'them' if failed != 1 else 'it'} (see the errors) and try "
                            "again, or use best_effort to write the good records"
                        )
                    if self.run.dry_run:
                        await session.rollback()
                    else:
                        await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        else:
            await self._streams()
        return self.tally

    async def _streams(self) -> None:
        try:
            for stream in self.job.ordered():
                if self.run.progress.get(stream.name, {}).get("done"):
                    continue
                await self._stream_with_retries(stream)
        except RunFailed:
            if self._whole is None:  # committed batches stay: score what they wrote
                await self._rescore_moved()
            raise
        await self._managers()
        await self._rescore_moved()
        if self.run.mode is SyncMode.full_refresh and self.job.remove_unseen:
            await self._deletions()

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[AsyncSession]:
        if self._whole is not None:
            yield self._whole
        else:
            async with self.db.transaction() as session:
                yield session

    async def _stream_with_retries(self, stream: StreamPlan) -> None:
        attempt = 0
        while True:
            try:
                await self._stream(stream)
                return
            except (ConnectorError, *TRANSIENT) as exc:
                transient = not isinstance(exc, ConnectorError) or exc.transient
                if not transient or attempt >= self.settings.retries or self._whole is not None:
                    raise RunFailed(f"stream {stream.name!r}: {exc}") from exc
                attempt += 1
                delay = self.settings.backoff_seconds * 2 ** (attempt - 1)
                log.warning("sync_retry", stream=stream.name, attempt=attempt, error=str(exc))
                await asyncio.sleep(delay)

    async def _start_state(self, stream: StreamPlan) -> dict[str, Any] | None:
        saved = self.run.progress.get(stream.name, {}).get("state")
        if saved is not None or self.run.mode is not SyncMode.incremental:
            # A full run reads an incremental stream from the start, which sets its cursor.
            return saved if isinstance(saved, dict) else None
        async with self.db.transaction(write=False) as session:
            key = (self.job.tenant_id, self.job.connection_id, stream.name)
            cursor = await session.get(
                StreamCursor, key, execution_options={TENANT: self.job.tenant_id}
            )
            return dict(cursor.state) if cursor else None

    async def _stream(self, stream: StreamPlan) -> None:
        mode = SyncMode.incremental if stream.incremental else SyncMode.full_refresh
        state = await self._start_state(stream)
        reader = self.job.connector.read(
            self.job.config, stream.name, mode, state, stream.selection
        )
        transform = stream.transform

        async def transformed() -> AsyncGenerator[tuple[Batch, list[Any]], None]:
            async for batch in reader:
                yield batch, [transform(record) for record in batch.records]

        # The next batch is read and transformed while this one is written. Closed on the way
        # out, so a failed write stops the fetch and releases the source at once.
        async with aclosing(read_ahead(transformed())) as batches:
            async for batch, results in batches:
                await self._batch(stream, mode, batch, results)
        self.run.progress[stream.name] = {"state": None, "done": True}
        async with self._unit() as session:
            await self._checkpoint(session, stream, None, mode)

    async def _batch(
        self, stream: StreamPlan, mode: SyncMode, batch: Batch, results: list[Any]
    ) -> None:
        """Account, write and checkpoint one batch in one transaction."""
        self.tally.rows[stream.name] = (
            self.tally.rows.get(stream.name, 0) + len(batch.records) + len(batch.errors)
        )
        if batch.total is not None:
            self.tally.totals[stream.name] = batch.total
        if batch.errors:  # rows the source could not parse (a malformed CSV line): read too
            self.tally.add(stream.kind, read=len(batch.errors))
        for error in batch.errors:
            self._reject(stream, f"row {error.row}", error.reason, [error])
        mapped, numbers = self._map(stream, batch.records, results, batch.rows)
        async with self._unit() as session:
            linked = await self._write(session, stream, mapped, numbers)
            self.run.progress[stream.name] = {"state": batch.state, "done": False}
            await self._checkpoint(session, stream, batch.state, mode)
            owed = await self._record_owed(session)
        # Learnt once committed: a batch rolled back must not leave links behind.
        self._recorded.update(owed)
        if stream.kind == "identity":
            self._links.identities.update(linked)
        elif stream.kind == "group":
            self._links.groups.update(linked)

    def _map(
        self,
        stream: StreamPlan,
        records: list[dict[str, Any]],
        results: list[Any],
        rows: list[int] | None,
    ) -> tuple[list[Transformed], list[int | None]]:
        """The records that transformed, and each one's row in the source when it has rows;
        rejected ones are counted and reported."""
        mapped: list[Transformed] = []
        numbers: list[int | None] = []
        skipped = 0
        for result, row in zip(results, rows or repeat(None), strict=False):
            if type(result) is Transformed:
                mapped.append(result)
                numbers.append(row)
            elif type(result) is Rejected:
                problems = [replace(p, row=row) for p in result.problems]
                self._reject(
                    stream, result.ref, result.reason, problems or [RecordError(row, result.reason)]
                )
            else:
                skipped += 1
        self.tally.add(stream.kind, read=len(records), filtered=skipped)
        return mapped, numbers

    def _reject(
        self, stream: StreamPlan, ref: str, reason: str, problems: list[RecordError]
    ) -> None:
        """Count a rejected record, keep its problems, and stop when the stream says so."""
        self.tally.add(stream.kind, errors=1)
        self.tally.sample(stream.name, ref, reason)
        for problem in problems:
            self.tally.problem(stream.name, problem.row, problem.field, problem.reason)
        if stream.on_error == "fail":
            raise RunFailed(f"stream {stream.name!r}, record {ref}: {reason}")

    async def _write(
        self,
        session: AsyncSession,
        stream: StreamPlan,
        rows: list[Transformed],
        numbers: list[int | None],
    ) -> dict[str, str]:
        """Write one batch; returns the source ids it linked (identities and groups)."""
        full = self.run.mode is SyncMode.full_refresh and self.job.remove_unseen
        run_id = self.run.id if full else None  # marks what a full run saw, for deletions
        source, actor, existing = self.job.source, self.actor, self.job.existing
        report: IngestReport
        if stream.kind == "identity":
            policy = await policy_for(session, self.job.tenant_id)
            records = [SourceRecord(r.external_id, r.data) for r in rows]
            report = await ingest_identities(
                session,
                actor,
                source,
                records,
                policy,
                run_id=run_id,
                existing=existing,
                rescore=self._rescore,
            )
        elif stream.kind == "group":
            records = [SourceRecord(r.external_id, r.data) for r in rows]
            report = await ingest_groups(
                session, actor, source, records, run_id=run_id, existing=existing
            )

        elif stream.kind == "membership":
            pairs = [
                MembershipRecord(
                    str(r.data["group"]),
                    str(r.data["member"]),
                    r.data.get("member_kind", "identity"),
                )
                for r in rows
            ]
            report = await ingest_memberships(
                session,
                actor,
                source,
                pairs,
                run_id=run_id,
                rescore=self._rescore,
                existing=existing,
                known=self._links,
            )
        else:
            records = [SourceRecord(r.external_id, r.data) for r in rows]
            report = await ingest_resources(
                session, actor, source, records, run_id=run_id, existing=existing
            )
        counts = report.counts()
        counts.pop("errors")
        self.tally.add(stream.kind, **counts)
        for error in report.errors:
            row = numbers[error.index] if error.index is not None else None
            self._reject(
                stream, error.external_id, error.message, [RecordError(row, error.message)]
            )
        return report.ids

    async def _checkpoint(
        self,
        session: AsyncSession,
        stream: StreamPlan,
        state: dict[str, Any] | None,
        mode: SyncMode,
    ) -> None:
        """Progress, counts and the lease, in the batch's transaction."""
        if self._whole is not None:
            return
        if mode is SyncMode.incremental and state is not None:
            key = (self.job.tenant_id, self.job.connection_id, stream.name)
            scoped = {TENANT: self.job.tenant_id}
            cursor = await session.get(StreamCursor, key, execution_options=scoped)
            if cursor is None:
                tenant, connection, name = key
                session.add(
                    StreamCursor(
                        tenant_id=tenant, connection_id=connection, stream=name, state=state
                    )
                )
            else:
                cursor.state = state
        await renew(session, self.run, self.tally, self.settings.lease_seconds)

    async def _managers(self) -> None:
        """Resolve the source's manager references now that all its people are written; one
        that names no person of the source is sampled as an error, never fatal."""
        people = [s.name for s in self.job.streams if s.kind == "identity"]
        if not people:
            return
        async with self._unit() as session:
            policy = await policy_for(session, self.job.tenant_id)
            report = await resolve_managers(
                session, self.actor, self.job.source, policy, rescore=self._rescore
            )
            self.tally.add(
                "identity",
                managers_set=report.changed,
                managers_unresolved=len(report.unresolved),
                conflicts=report.conflicts,
            )
            for ext, ref in report.unresolved:
                self.tally.sample(people[0], ext, f"manager {ref!r} is no person of this source")
            if self._whole is None:
                await renew(session, self.run, self.tally, self.settings.lease_seconds)
                owed = await self._record_owed(session)
        if self._whole is None:
            self._recorded.update(owed)

    async def _record_owed(self, session: AsyncSession) -> dict[str, str]:
        """Write the members this transaction moved as pending rescores (after the lease
        renewal, so a worker that lost the run writes nothing); returns them."""
        if self._whole is not None:
            return {}
        owed = rescoring.owed(self._rescore, self._recorded)
        await rescoring.record(session, self.job.tenant_id, self.run.id, owed)
        return owed

    async def _rescore_moved(self) -> None:
        """Risk scores of the identities this run moved and of everyone whose groups moved.

        A resumed run adds what its earlier attempts recorded as pending. Each rescoring batch
        is its own short transaction, so other writers are served in between.
        """
        if self._whole is not None:
            if self._rescore:
                await rescore_members(self._whole, self.job.tenant_id, self._rescore)
            return
        tenant = self.job.tenant_id
        if self._resumed:
            earlier = await rescoring.recorded(self.db, tenant, self.run.id)
            self._recorded.update(earlier)
            self._rescore.update(earlier)

        async def extend(session: AsyncSession) -> None:
            await renew(session, self.run, self.tally, self.settings.lease_seconds)

        await rescoring.pay(
            self.db,
            tenant,
            self.run.id,
            self._rescore,
            batch=self.settings.rescore_batch,
            renew=extend,
            between=self.settings.after_rescore_batch,
        )
        self._rescore.clear()
        self._recorded.clear()

    async def _deletions(self) -> None:
        async with self._unit() as session:
            try:
                removal = await remove_unseen(
                    session,
                    self.actor,
                    self.job.source,
                    self.run.id,
                    max_fraction=self.job.max_delete_fraction,
                    confirmed=self.run.confirm_deletes,
                )
            except SafetyThresholdExceeded as exc:
                raise RunRefused(str(exc)) from exc
            for kind in ("identity", "group", "resource"):
                if kind != "resource" or removal.unlinked[kind]:  # resources: only when any
                    self.tally.add(
                        kind, unlinked=removal.unlinked[kind], deleted=removal.deleted[kind]
                    )
            self.tally.add("membership", removed=removal.memberships)
            if self._whole is None:
                await renew(session, self.run, self.tally, self.settings.lease_seconds)


async def renew(session: AsyncSession, run: RunSpec, tally: Tally, lease_seconds: float) -> None:
    """Save progress and counts and extend the lease; LeaseLost when it is no longer ours."""
    expires = datetime.now(UTC) + timedelta(seconds=lease_seconds)
    stmt = (
        update(SyncRun)
        .where(SyncRun.tenant_id == run.tenant_id, SyncRun.id == run.id)
        .where(SyncRun.lease_owner == run.owner, SyncRun.status == "running")
        .values(
            progress=dict(run.progress),
            counts=tally.counts,
            error_samples=tally.samples,
            lease_expires_at=expires,
        )
        .execution_options(**{TENANT: run.tenant_id})
    )
    result = await session.execute(stmt)
    if getattr(result, "rowcount", 0) != 1:
        raise LeaseLost(f"run {run.id} is no longer leased to {run.owner}")
