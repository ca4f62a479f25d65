"""Reading AuthZEN request bodies into policy inputs, and answering with decisions.

The policy input of one evaluation is `{"subject": {...}, "action": {...}, "resource": {...},
"context": {...}}`: the request's objects as sent (context `{}` when absent), the subject then
enriched with the store's record of `subject.id` (when the tenant has enrichment on).
"""

from __future__ import annotations

from typing import Any

from gatehouse.decisions import inputs
from gatehouse.decisions.batch import DENY, PERMIT, Verdict
from gatehouse.kit.problems import Problem

KEYS = ("subject", "action", "resource", "context")
REQUIRED = {"subject": ("type", "id"), "action": ("name",), "resource": ("type", "id")}
SEMANTICS = {"execute_all": None, "deny_on_first_deny": DENY, "permit_on_first_permit": PERMIT}


def bad(message: str) -> Problem:
    """AuthZEN's 400."""
    return Problem(400, message)


def json_media(content_type: str | None) -> None:
    """415 unless the request says `Content-Type: application/json` (parameters allowed), as
    the HTTPS binding requires of every request."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        sent = f"`{content_type}`" if content_type else "no Content-Type"
        raise Problem(415, f"the body must be sent as application/json, not {sent}")


def document(raw: bytes, max_depth: int, max_nodes: int) -> dict[str, Any]:
    """The request body: a JSON object within the depth and size limits."""
    doc = inputs.parse(raw, "request body")
    if not isinstance(doc, dict):
        raise bad("the body must be a JSON object")
    inputs.check_size(doc, max_depth, max_nodes)
    return doc


def checked(doc: dict[str, Any], where: str = "") -> dict[str, Any]:
    """The policy input of one evaluation, or a 400 naming the missing or mistyped field."""
    for key, fields in REQUIRED.items():
        value = doc.get(key)
        if not isinstance(value, dict):
            raise bad(f"{where}{key} must be an object")
        for name in fields:
            if not isinstance(value.get(name), str) or not value[name]:
                raise bad(f"{where}{key}.{name} must be a non-empty string")
        props = value.get("properties")
        if props is not None and not isinstance(props, dict):
            raise bad(f"{where}{key}.properties must be an object")
    context = doc.get("context")
    if context is not None and not isinstance(context, dict):
        raise bad(f"{where}context must be an object")
    return {
        "subject": doc["subject"],
        "action": doc["action"],
        "resource": doc["resource"],
        "context": context or {},
    }


def batch(doc: dict[str, Any], most: int) -> tuple[list[dict[str, Any]], bool | None]:
    """The inputs of `/access/v1/evaluations` (each item over the top-level defaults) and the
    verdict to stop after; without `evaluations` (or with none) it is one evaluation."""
    items = doc.get("evaluations")
    options = doc.get("options")
    if options is not None and not isinstance(options, dict):
        raise bad("options must be an object")
    semantic = (options or {}).get("evaluations_semantic", "execute_all")
    if semantic not in SEMANTICS:
        raise bad(f"options.evaluations_semantic must be one of {', '.join(SEMANTICS)}")
    if items is None or items == []:
        return [checked(doc)], SEMANTICS[semantic]
    if not isinstance(items, list):
        raise bad("evaluations must be an array")
    if len(items) > most:
        raise bad(f"evaluations holds {len(items)} items, at most {most} are allowed")
    defaults = {key: doc[key] for key in KEYS if key in doc}
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad(f"evaluations[{n}] must be an object")
        out.append(checked({**defaults, **item}, f"evaluations[{n}]."))
    return out, SEMANTICS[semantic]


def answer(verdict: Verdict) -> dict[str, Any]:
    """One AuthZEN decision: `{"decision": bool, "context": {...}}`."""
    context: dict[str, Any] = {"decision_id": verdict.decision_id}
    if verdict.reasons:
        context["reasons"] = verdict.reasons
    if verdict.constraints:
        context["constraints"] = verdict.constraints
    if verdict.error is not None:  # the spec's per-evaluation error, with the engine's code
        error = verdict.error
        context["error"] = {"status": error.status, "message": error.message, "code": error.code}
    return {"decision": verdict.allow, "context": context}
