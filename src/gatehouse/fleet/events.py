"""OPA decision-log events (the plugin's EventV1) checked and turned into decision-log rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gatehouse.fleet.redaction import Redactions, Redactor, merged
from gatehouse.fleet.timestamps import parse_rfc3339
from gatehouse.kit.problems import Problem

OPA_ENGINE = "opa"
MAX_ERRORS = 50
# Fields with columns of their own; everything else an event carries is kept in `extra`.
COLUMNS = frozenset(
    {
        "decision_id",
        "timestamp",
        "labels",
        "path",
        "query",
        "input",
        "result",
        "bundles",
        "metrics",
        "erased",
        "masked",
        "requested_by",
        "error",
    }
)
# What describes a decision rather than carries its data: checked, never redacted. Every other
# part (input, result, mapped_result, nd_builtin_cache, request_context, error, anything newer)
# may carry personal data or credentials and is redacted.
METADATA = frozenset(
    {
        "decision_id",
        "timestamp",
        "labels",
        "path",
        "query",
        "bundles",
        "metrics",
        "erased",
        "masked",
        "requested_by",
        "req_id",
        "trace_id",
        "span_id",
        "revision",
    }
)
# Total time OPA spent on the request, else the evaluation alone (nanoseconds).
LATENCY_METRICS = ("timer_server_handler_ns", "timer_rego_query_eval_ns")
LIMITS = {"decision_id": 128, "path": 1000, "requested_by": 500}

Check = Callable[[Any], str | None]


def _text(limit: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if limit is not None and len(value) > limit:
            return f"must be at most {limit} characters"
        return None

    return check


def _labels(value: Any) -> str | None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return "must be an object of strings"
    return None


def _pointers(value: Any) -> str | None:
    if not isinstance(value, list) or not all(
        isinstance(p, str) and p.startswith("/") for p in value
    ):
        return "must be an array of JSON pointers"
    return None


def _bundles(value: Any) -> str | None:
    if not isinstance(value, dict) or not all(
        isinstance(b, dict) and isinstance(b.get("revision", ""), str) for b in value.values()
    ):
        return "must map bundle names to objects with a string `revision`"
    return None


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be an object"


def _integer(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "must be a non-negative integer"


CHECKS: dict[str, Check] = {
    "labels": _labels,
    "path": _text(LIMITS["path"]),
    "query": _text(),
    "requested_by": _text(LIMITS["requested_by"]),
    "trace_id": _text(200),
    "span_id": _text(200),
    "revision": _text(1000),
    "bundles": _bundles,
    "metrics": _object,
    "erased": _pointers,
    "masked": _pointers,
    "req_id": _integer,
}


def event_errors(n: int, event: Any) -> tuple[list[dict[str, str]], datetime | None]:
    """What is wrong with event `n` (empty when nothing), and its timestamp."""
    if not isinstance(event, dict):
        return [{"field": f"[{n}]", "message": "must be an object (one decision event)"}], None
    errors: list[dict[str, str]] = []
    decision_id = event.get("decision_id")
    if not isinstance(decision_id, str) or not decision_id.strip():
        errors.append({"field": f"[{n}].decision_id", "message": "is required (a string)"})
    elif len(decision_id) > LIMITS["decision_id"]:
        errors.append(
            {"field": f"[{n}].decision_id", "message": f"is longer than {LIMITS['decision_id']}"}
        )
    at: datetime | None = None
    stamp = event.get("timestamp")
    if not isinstance(stamp, str):
        errors.append({"field": f"[{n}].timestamp", "message": "is required (RFC 3339)"})
    else:
        try:
            at = parse_rfc3339(stamp)
        except ValueError:
            errors.append({"field": f"[{n}].timestamp", "message": "is not an RFC 3339 time"})
    for name, check in CHECKS.items():
        if name in event and event[name] is not None:
            problem = check(event[name])
            if problem:
                errors.append({"field": f"[{n}].{name}", "message": problem})
    return errors, at


def latency_ms(metrics: dict[str, Any] | None) -> float | None:
    """The decision's latency in milliseconds, from OPA's timers."""
    for name in LATENCY_METRICS:
        value = (metrics or {}).get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value / 1_000_000
    return None


def to_row(event: dict[str, Any], at: datetime, redactor: Redactor) -> dict[str, Any]:
    """The decision-log row of a checked event, every free-form part of it redacted."""
    report = Redactions()
    doc = {
        key: value if key in METADATA else redactor.apply(value, f"/{key}", report)
        for key, value in event.items()
    }
    extra = {k: v for k, v in doc.items() if k not in COLUMNS and v is not None}
    labels = doc.get("labels") or {}
    metrics = doc.get("metrics")
    return {
        "decision_id": doc["decision_id"],
        "decided_at": at,
        "engine": OPA_ENGINE,
        "instance_id": labels.get("id", "")[:200],
        "endpoint": None,
        "path": (doc.get("path") or "").lstrip("/"),
        "query": doc.get("query"),
        "input": doc.get("input"),
        "defined": "result" in doc,
        "result": doc.get("result"),
        "latency_ms": latency_ms(metrics),
        "cache_hit": None,
        "labels": labels,
        "bundles": doc.get("bundles") or {},
        "metrics": metrics,
        "erased": merged(doc.get("erased") or [], report.erased),
        "masked": merged(doc.get("masked") or [], report.masked),
        "requested_by": doc.get("requested_by"),
        "error": doc.get("error"),
        "extra": extra or None,
    }


def parse_events(doc: Any, max_events: int, redactor: Redactor) -> list[dict[str, Any]]:
    """Rows for every event of an upload, or one 422 listing what is wrong (all or nothing)."""
    if not isinstance(doc, list):
        raise Problem(
            422,
            "A decision-log upload is a JSON array of decision events.",
            errors=[{"field": "", "message": f"got a JSON {type(doc).__name__}, not an array"}],
        )
    if len(doc) > max_events:
        raise Problem(
            413,
            f"The upload holds {len(doc)} events; at most {max_events} are taken at once "
            "(GATEHOUSE_DECISION_LOG_MAX_EVENTS): lower OPA's upload_size_limit_bytes.",
        )
    errors: list[dict[str, str]] = []
    checked: list[tuple[dict[str, Any], datetime]] = []
    for n, event in enumerate(doc):
        wrong, at = event_errors(n, event)
        if wrong:
            errors += wrong
        elif at is not None:
            checked.append((event, at))
    if errors:
        raise Problem(
            422,
            f"{len(errors)} problem(s) in the decision events; nothing was stored. See errors.",
            errors=errors[:MAX_ERRORS],
        )
    return [to_row(event, at, redactor) for event, at in checked]
