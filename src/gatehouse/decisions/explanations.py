"""`?explain=` on the Data API: a remote OPA explains its answers; the embedded engine cannot.

regorus records no evaluation trace (its Python binding offers coverage reports and `print`
output, neither of which is OPA's explanation), so an embedded tenant's explain request is
refused with OPA's 400. A tenant routed to remote OPAs gets the parameter passed on, and the
explanation its OPA returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gatehouse.decisions import opa
from gatehouse.decisions.service import Answer, account, failure
from gatehouse.decisions.types import EvaluationError
from gatehouse.kit.ids import new_id
from gatehouse.kit.problems import Problem
from gatehouse.services import Services

# OPA's explain modes (server/types: ExplainModeV1); OPA ignores any other value, as do we.
MODES = frozenset({"notes", "fails", "full", "debug"})


def unsupported(mode: str) -> Problem:
    """OPA's 400 for an explanation the embedded engine cannot give."""
    return opa.error(
        400,
        "invalid_parameter",
        f"explain is not supported by the embedded engine (explain={mode}): regorus records no "
        "evaluation trace; route the tenant to a remote OPA (decision-config mode `remote`) "
        "for explanations",
    )


@dataclass(frozen=True, slots=True)
class Asked:
    """A Data API request that asked for an explanation."""

    tenant: str
    path: str
    input: Any
    mode: str
    pretty: bool


async def explained(
    svc: Services, asked: Asked, started_ns: int, parsed_ns: int, requested_by: str | None
) -> tuple[Answer, Any]:
    """A remote tenant's decision (enriched and logged as `decide` does, never cached) with its
    OPA's explanation (None when a fallback answered); OPA's 400 for an embedded tenant."""
    router, tenant, path, mode = svc.decision_router, asked.tenant, asked.path, asked.mode
    if not router.remote(tenant):
        raise unsupported(mode)
    input = asked.input
    if input is not None and await svc.subjects.enabled(tenant):
        input = await svc.subjects.apply(tenant, input)
    params = {"explain": mode, "pretty": "true"} if asked.pretty else {"explain": mode}
    try:
        found = await router.explain(tenant, path, input, params)
    except EvaluationError as exc:
        svc.decision_stats.failed(tenant, (time.perf_counter_ns() - started_ns) / 1e6)
        raise failure(exc) from None
    if found is None:  # the tenant's routing changed meanwhile
        raise unsupported(mode)
    decision, explanation = found
    decision_id = new_id()
    where = "/".join(opa.segments(path))
    elapsed = time.perf_counter_ns() - started_ns
    metrics = account(svc, tenant, where, input, decision, decision_id, elapsed, None, requested_by)
    metrics["timer_rego_input_parse_ns"] = parsed_ns
    return Answer(decision, decision_id, metrics), explanation
