"""Many decisions of one rule in one request: enrichment once per subject, one log row each.

It does what `service.decide()` does (enrich, evaluate, log) for AuthZEN and `/v1/authorize`,
without the per-item overhead: the tenant's settings are read once, each distinct subject is
looked up once, and a failed evaluation denies its item instead of failing the whole batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gatehouse.decisions import enrich, opa
from gatehouse.decisions.service import account, answer
from gatehouse.decisions.types import Decision, EvaluationError
from gatehouse.kit.ids import new_ids
from gatehouse.services import Services

# Stop after the first deny or permit (AuthZEN's `evaluations_semantic`); None evaluates all.
DENY, PERMIT = False, True


# Not frozen: one is made per decision, and a frozen dataclass's __init__ costs five times more.
@dataclass(slots=True)
class Verdict:
    """A decision read as allow or deny, with what the rule added and why it denied."""

    allow: bool
    decision_id: str
    engine: str
    constraints: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    cached: bool = False
    error: EvaluationError | None = None


def read(decision: Decision, rule: str) -> tuple[bool, dict[str, Any], list[str]]:
    """Allow, constraints and reasons of a rule's value: a boolean or `{allow, ...}`."""
    value = decision.result
    if not decision.defined:
        return False, {}, [f"the rule {rule} is undefined for this input"]
    if value is True or value is False:
        return value, {}, []
    if isinstance(value, dict) and isinstance(value.get("allow"), bool):
        constraints = value.get("constraints")
        reasons = value.get("reasons")
        return (
            value["allow"],
            constraints if isinstance(constraints, dict) else {},
            [str(r) for r in reasons] if isinstance(reasons, list) else [],
        )
    kind = type(value).__name__
    return False, {}, [f"the rule {rule} returned a {kind}, not a boolean or {{allow, ...}}"]


async def subjects_of(svc: Services, tenant: str, inputs: Sequence[Any]) -> list[Any]:
    """The inputs with `subject` enriched as `Subjects.apply` does, each subject looked up once."""
    if not await svc.subjects.enabled(tenant):
        return list(inputs)
    given: list[tuple[str | None, dict[str, Any]] | None] = []
    for input in inputs:
        has = isinstance(input, dict) and "subject" in input
        given.append(enrich.given_of(input["subject"]) if has else None)
    refs = {g[0] for g in given if g is not None and g[0] is not None}
    found = await svc.subjects.records(tenant, refs)
    out = []
    for input, sent in zip(inputs, given, strict=True):
        if sent is None:
            out.append(input)
        else:
            record = found[sent[0]] if sent[0] is not None else None
            out.append({**input, "subject": enrich.merged(sent[1], record)})
    return out


async def decide_all(
    svc: Services,
    tenant: str,
    inputs: Sequence[Any],
    *,
    api: str,
    requested_by: str | None,
    stop_on: bool | None = None,
) -> list[Verdict]:
    """Evaluate the tenant's entrypoint rule for each input in order, logging each decision;
    stops after the first verdict equal to `stop_on` (when given)."""
    rule = await svc.subjects.entrypoint(tenant)
    path = "/".join(opa.segments(rule))
    enriched = await subjects_of(svc, tenant, inputs)
    out: list[Verdict] = []
    for input, decision_id in zip(enriched, new_ids(len(enriched)), strict=True):
        started = time.perf_counter_ns()
        try:
            decision, hit = await answer(svc, tenant, path, path, input)
        except EvaluationError as exc:
            out.append(Verdict(False, decision_id, "error", reasons=[exc.message], error=exc))
            svc.decision_stats.failed(tenant, (time.perf_counter_ns() - started) / 1e6)
            decision = None
        elapsed = time.perf_counter_ns() - started
        if decision is not None:
            allow, constraints, reasons = read(decision, path)
            out.append(
                Verdict(allow, decision_id, decision.engine, constraints, reasons, decision.cached)
            )
            account(
                svc, tenant, path, input, decision, decision_id, elapsed, hit, requested_by, api
            )
        if stop_on is not None and out[-1].allow is stop_on:
            break
    return out
