"""Asking for a decision: enrichment, the engine (whichever `Services.decisions` is), the log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gatehouse.decisions import opa
from gatehouse.decisions.cache.keys import Key
from gatehouse.decisions.cache.options import CachePolicy
from gatehouse.decisions.log import Made
from gatehouse.decisions.monitor.stats import violates
from gatehouse.decisions.types import Decision, EvaluationError
from gatehouse.kit.ids import new_id
from gatehouse.kit.problems import Problem
from gatehouse.services import Services

NO_CACHE: tuple[None, None, CachePolicy] = (None, None, CachePolicy(False, 0.0, 0))


# Not frozen: one is made per decision, and a frozen dataclass's __init__ costs five times more.
@dataclass(slots=True)
class Answer:
    """A decision with its id and OPA's metrics (nanoseconds)."""

    decision: Decision
    decision_id: str
    metrics: dict[str, int]


def failure(exc: EvaluationError) -> Problem:
    """OPA's 500 for an evaluation that failed (the engine's code in `errors`)."""
    entry = {"code": exc.code, "message": exc.message}
    return opa.error(
        exc.status,
        "internal_error",
        "error(s) occurred while evaluating query",
        opa_errors=[entry],
    )


async def cached(
    svc: Services, tenant: str, path: str, input: Any
) -> tuple[Decision | None, Key | None, CachePolicy]:
    """A cached answer (or the key to keep the engine's answer under) and the tenant's policy."""
    _, policy = await svc.decision_options.of(tenant)
    if not policy.enabled:
        return None, None, policy
    key = await svc.decision_cache.key(tenant, path, input)
    found = await svc.decision_cache.get(tenant, key) if key is not None else None
    if found is None:
        return None, key, policy
    assert key is not None
    decision = Decision(
        found.defined,
        found.result,
        engine=found.engine,
        policy_revision=key.policy_revision,
        data_revision=key.data_revision,
        cached=True,
    )
    return decision, key, policy


async def answer(
    svc: Services, tenant: str, path: str, where: str, input: Any, use_cache: bool = True
) -> tuple[Decision, bool | None]:
    """The decision, from the cache when it holds one for the engine's current revisions, else
    evaluated (and kept when the embedded engine made it); and whether it was a cache hit (None
    when the cache does not apply). Raises `EvaluationError`."""
    decision, key, policy = await cached(svc, tenant, where, input) if use_cache else NO_CACHE
    if decision is None:
        decision = await svc.decisions.evaluate(tenant, path, input)
        if policy.enabled and key is None:  # the engine was loaded by this question
            key = await svc.decision_cache.key(tenant, where, input)
        if key is not None and decision.engine == "embedded":
            await svc.decision_cache.put(tenant, key, decision, policy)
    return decision, (
        decision.cached if key is not None and decision.engine == "embedded" else None
    )


async def decide(
    svc: Services,
    tenant: str,
    path: str,
    input: Any,
    *,
    started_ns: int,
    parsed_ns: int = 0,
    requested_by: str | None = None,
    use_cache: bool = True,
) -> Answer:
    """Evaluate `data.<path>` for the tenant (subject enriched when on), from the decision cache
    when it holds the answer for the engine's current revisions, and log the decision."""
    if input is not None and await svc.subjects.enabled(tenant):
        input = await svc.subjects.apply(tenant, input)
    decision_id = new_id()
    where = "/".join(opa.segments(path))
    try:
        decision, hit = await answer(svc, tenant, path, where, input, use_cache)
    except EvaluationError as exc:
        svc.decision_stats.failed(tenant, (time.perf_counter_ns() - started_ns) / 1e6)
        raise failure(exc) from None
    elapsed = time.perf_counter_ns() - started_ns
    metrics = account(svc, tenant, where, input, decision, decision_id, elapsed, hit, requested_by)
    metrics["timer_rego_input_parse_ns"] = parsed_ns
    return Answer(decision, decision_id, metrics)


def account(
    svc: Services,
    tenant: str,
    path: str,
    input: Any,
    decision: Decision,
    decision_id: str,
    elapsed: int,
    hit: bool | None,
    requested_by: str | None,
    api: str | None = None,
) -> dict[str, int]:
    """Count a made decision and queue it for the decision log; its OPA-style metrics."""
    metrics = {"timer_server_handler_ns": elapsed}
    if decision.eval_ns is not None and not decision.cached:
        metrics["timer_rego_query_eval_ns"] = decision.eval_ns
    violation = violates(decision.defined, decision.result)
    svc.decision_stats.decided(
        tenant, elapsed / 1e6, hit=hit, engine=decision.engine, violation=violation
    )
    svc.decision_log.record(
        Made(
            tenant_id=tenant,
            decision_id=decision_id,
            decided_at=datetime.now(UTC),
            path=path,
            input=input,
            defined=decision.defined,
            result=decision.result,
            engine=decision.engine,
            endpoint=decision.endpoint,
            latency_ms=elapsed / 1e6,
            metrics=metrics,
            requested_by=requested_by,
            revision=decision.data_revision,
            api=api,
            cache_hit=decision.cached,
        )
    )
    return metrics
