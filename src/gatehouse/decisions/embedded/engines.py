"""The embedded engines of every tenant: kept current from store events, evaluated on workers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from gatehouse.db.engine import Database
from gatehouse.decisions import localdata, opa, policies
from gatehouse.decisions.embedded.isolated import ProcessWorker
from gatehouse.decisions.embedded.sources import Sources
from gatehouse.decisions.embedded.worker import Outcome, Worker
from gatehouse.decisions.types import Decision, EvaluationError
from gatehouse.distribution.hub import Current, Distribution

log = structlog.get_logger("gatehouse.decisions")


@functools.lru_cache(maxsize=4096)
def reference(path: str) -> tuple[str | None, str]:
    """The rule to ask for a data path (None when it is not a plain rule ref) and the query."""
    parts = opa.segments(path)
    query = opa.query(parts)
    return (query if parts and all(opa.IDENT.match(p) for p in parts) else None), query


WATCH_SECONDS = 30.0
LABEL_TRIES = 3


@dataclass
class Tenant:
    """What the process holds for one tenant's engine."""

    sources: Sources
    seen: Current
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    watcher: asyncio.Task[None] | None = None
    rebuilds: int = 0
    rebuild_seconds: float = 0.0
    # When the last rebuild ended (the event loop's clock).
    rebuilt_at: float = 0.0


def pause(debounce: float, spacing: float, last_seconds: float, since_last: float) -> float:
    """How long to wait before a rebuild: the debounce, or longer while the last rebuild (which
    held the event loop: regorus keeps the GIL) was recent, so that back-to-back changes leave
    the loop free at least `spacing` times as long as rebuilds take."""
    return max(debounce, spacing * last_seconds - since_last)


class EmbeddedEngines:
    """One regorus engine per tenant (one copy per worker thread); implements DecisionEngine."""

    def __init__(
        self,
        db: Database,
        distribution: Distribution,
        *,
        threads: int = 0,
        processes: int = 0,
        time_limit_ms: int = 1000,
        debounce_seconds: float = 0.05,
        rebuild_spacing: float = 1.0,
    ) -> None:
        self.db, self.distribution = db, distribution
        # processes>0 (the server's default): in child processes, stopped at the time limit
        # (isolated.py); else threads=0 evaluates on the event loop's own thread (regorus holds
        # the GIL anyway), where the limit is only checked after the evaluation returns.
        self.inline = threads == 0 and processes == 0
        self.workers: list[Worker | ProcessWorker]
        if processes:
            self.workers = [ProcessWorker(f"gatehouse-rego-{n}") for n in range(processes)]
        else:
            count = max(1, threads)
            self.workers = [Worker(f"gatehouse-rego-{n}", inline=self.inline) for n in range(count)]
        self.limit_ns = time_limit_ms * 1_000_000
        self.debounce = debounce_seconds
        self.spacing = rebuild_spacing
        self.tenants: dict[str, Tenant] = {}
        self.loading: dict[str, asyncio.Lock] = {}
        self.generation = 0
        self.stopping = False

    def start(self) -> None:
        """Start the child processes now (in the background), so decisions find them warm."""
        for worker in self.workers:
            if isinstance(worker, ProcessWorker):
                worker.start()

    async def evaluate(self, tenant_id: str, path: str, input: Any) -> Decision:
        """The value of `data.<path>` for `input` in the tenant's engine."""
        held = self.tenants.get(tenant_id)
        src = held.sources if held is not None else await self.sources(tenant_id)
        rule, query = reference(path)
        if self.inline:
            outcome = self.workers[0].evaluate(src, rule, query, input, self.limit_ns)
        else:
            outcome = await self._on_worker(src, rule, query, input)
        if type(outcome) is EvaluationError:
            raise outcome
        assert isinstance(outcome, Outcome)
        return Decision(
            outcome.defined,
            outcome.result,
            policy_revision=src.policy_revision,
            data_revision=src.data_revision,
            eval_ns=outcome.eval_ns,
        )

    async def _on_worker(
        self, src: Sources, rule: str | None, query: str, input: Any
    ) -> Outcome | EvaluationError:
        """Evaluate on the least busy worker thread."""
        worker = min(self.workers, key=lambda w: w.busy + w.replacing)
        worker.busy += 1
        try:
            future = worker.submit(worker.evaluate, src, rule, query, input, self.limit_ns)
            found: Outcome | EvaluationError = await asyncio.wrap_future(future)
            return found
        finally:
            worker.busy -= 1

    async def sources(self, tenant_id: str) -> Sources:
        """The tenant's current generation (loaded, and watched, on first use)."""
        held = self.tenants.get(tenant_id)
        if held is None:
            await self.reload(tenant_id, missing_only=True)
            return self.tenants[tenant_id].sources
        return held.sources

    async def changed(self, tenant_id: str) -> None:
        """This process changed the tenant's policies or data: be current before answering."""
        if tenant_id in self.tenants:
            await self.distribution.catch_up(tenant_id)
            await self.reload(tenant_id)

    async def reload(self, tenant_id: str, *, missing_only: bool = False) -> None:
        """Read the tenant's policies, local data and document, and publish a new generation
        (with `missing_only`, only when no generation is held: the first callers of a cold
        tenant share one load)."""
        lock = self.loading.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            if missing_only and tenant_id in self.tenants:
                return
            started = time.perf_counter()
            for _ in range(LABEL_TRIES):
                current = await self.distribution.current(tenant_id)
                snap = await self.distribution.snapshot(tenant_id)
                # Label the generation with the document it loads (the cache keys on it).
                revision, etag = snap.revision, snap.etag.strip('"')
                async with self.db.transaction(write=False) as session:
                    found = await policies.modules(session, tenant_id)
                    local, local_version = await localdata.document(session, tenant_id)
                held = self.tenants.get(tenant_id)
                data_key = f"{snap.content_hash}"
                reloaded = held is None or held.sources.data_key != data_key
                if held is not None and not reloaded:
                    data_json = held.sources.data_json
                else:
                    data_json = await asyncio.to_thread(snap.data_json)
                if snap.revision == revision:
                    break  # else the snapshot moved while it was read: read again
            self.generation += 1
            src = Sources(
                tenant=tenant_id,
                number=self.generation,
                data_json=data_json,
                data_key=data_key,
                local=local,
                modules=tuple(sorted(found.items())),
                policy_revision=f"{revision}-{local_version}",
                data_revision=etag,
            )
            if not await self._warm(src) and held is not None:
                held.seen = current  # keep serving the working generation
                return
            if held is None:
                held = Tenant(src, current)
                self.tenants[tenant_id] = held
                held.watcher = asyncio.create_task(self._watch(tenant_id))
            held.sources, held.seen = src, current
            held.rebuilds += 1
            held.rebuild_seconds = time.perf_counter() - started
            held.rebuilt_at = asyncio.get_running_loop().time()
            log.info(
                "embedded engine rebuilt",
                tenant=tenant_id,
                generation=src.number,
                revision=current.revision,
                document_reloaded=reloaded,
                seconds=round(held.rebuild_seconds, 3),
            )

    async def _warm(self, src: Sources) -> bool:
        """Build the generation on every worker before it is published; False when it fails."""
        futures = [asyncio.wrap_future(w.submit(w.warm, src)) for w in self.workers]
        ok = True
        for error in await asyncio.gather(*futures):
            if error is not None:
                ok = False
                log.warning("an engine generation failed to build", error=error[:500])
        return ok

    async def _watch(self, tenant_id: str) -> None:
        """Rebuild after the tenant's document revision moves (debounced: bursts coalesce)."""
        while not self.stopping:
            held = self.tenants[tenant_id]
            try:
                now = await self.distribution.wait_change(tenant_id, held.seen, WATCH_SECONDS)
                if now == held.seen:
                    continue
                since = asyncio.get_running_loop().time() - held.rebuilt_at
                await asyncio.sleep(pause(self.debounce, self.spacing, held.rebuild_seconds, since))
                await self.reload(tenant_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not rebuild an embedded engine", tenant=tenant_id)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """Stop watching and the worker threads."""
        self.stopping = True
        for held in self.tenants.values():
            if held.watcher is not None:
                held.watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await held.watcher
        for worker in self.workers:
            worker.stop()
