"""Asking for a decision: enrichment, the engine (whichever `Services.decisions` is), the log."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gatehouse.decisions import opa
from gatehouse.decisions.log import Made
from gatehouse.decisions.types import Decision, EvaluationError
from gatehouse.kit.problems import Problem
from gatehouse.services import Services


@dataclass(frozen=True, slots=True)
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


async def decide(
    svc: Services,
    tenant: str,
    path: str,
    input: Any,
    *,
    started_ns: int,
    parsed_ns: int = 0,
    requested_by: str | None = None,
) -> Answer:
    """Evaluate `data.<path>` for the tenant (subject enriched when on), and log the decision."""
    if input is not None and await svc.subjects.enabled(tenant):
        input = await svc.subjects.apply(tenant, input)
    decision_id = str(uuid.uuid4())
    try:
        decision = await svc.decisions.evaluate(tenant, path, input)
    except EvaluationError as exc:
        raise failure(exc) from None
    elapsed = time.perf_counter_ns() - started_ns
    metrics = {"timer_rego_input_parse_ns": parsed_ns, "timer_server_handler_ns": elapsed}
    if decision.eval_ns is not None:
        metrics["timer_rego_query_eval_ns"] = decision.eval_ns
    svc.decision_log.record(
        Made(
            tenant_id=tenant,
            decision_id=decision_id,
            decided_at=datetime.now(UTC),
            path="/".join(opa.segments(path)),
            input=input,
            defined=decision.defined,
            result=decision.result,
            engine=decision.engine,
            endpoint=decision.endpoint,
            latency_ms=elapsed / 1e6,
            metrics=metrics,
            requested_by=requested_by,
            revision=decision.data_revision,
        )
    )
    return Answer(decision, decision_id, metrics)
