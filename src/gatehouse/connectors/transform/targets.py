"""What each kind of record may be mapped to, and how values are fitted to the store's columns."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from gatehouse.connectors.transform.errors import Invalid, SpecProblem
from gatehouse.connectors.transform.normalize import (
    TEXT_LIMITS,
    boolean,
    is_scalar,
    kind_of,
    text,
)
from gatehouse.identity.schemas import IDENTITY_COLUMNS, MANAGER, GroupData, IdentityData

Coerce = Callable[[Any], Any]
ATTRIBUTES = "attributes"
MEMBERSHIP_TARGETS = ("group", "member", "member_kind")
MEMBER_KINDS = ("identity", "group")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
# Targets each kind must map, and which kinds need an external id and a resource type.
REQUIRED = {
    "identity": ("user_name",),
    "group": ("display_name",),
    "membership": ("group", "member"),
}
COLUMNS = {
    "identity": (*(c for c in IDENTITY_COLUMNS if c != "external_id"), MANAGER),
    "group": ("display_name",),
    "membership": MEMBERSHIP_TARGETS,
    "resource": (),
}


def _max_length(model: type[IdentityData | GroupData], name: str) -> int | None:
    for meta in model.model_fields[name].metadata:
        limit = getattr(meta, "max_length", None)
        if limit is not None:
            return int(limit)
    return None


@cache  # one function per column, so TEXT_LIMITS stays small however many specs compile
def string_column(name: str, max_length: int | None) -> Callable[[Any], str | None]:
    """Fit a value to a text column: numbers become text; objects, lists and booleans do not."""

    def coerce(value: Any) -> str | None:
        if type(value) is str and (max_length is None or len(value) <= max_length):
            return value
        if value is None:
            return None
        if isinstance(value, bool) or not is_scalar(value):
            raise Invalid(f"{name} must be text, got {kind_of(value)}")
        fitted = text(value)
        if max_length is not None and len(fitted) > max_length:
            raise Invalid(f"{name} is longer than {max_length} characters")
        return fitted

    TEXT_LIMITS[coerce] = max_length if max_length is not None else 1 << 62
    return coerce


def _member_kind(value: Any) -> str | None:
    if value is None:
        return None
    kind = text(value).strip().lower()
    if kind not in MEMBER_KINDS:
        raise Invalid("member_kind must be identity or group")
    return kind


def _member(value: Any) -> str | None:
    if isinstance(value, list):
        raise Invalid("member must be one id: map one row per membership")
    return _member_id(value)


_member_id = string_column("member", 256)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def json_value(value: Any) -> Any:
    """A value the store's JSON attributes can hold: database types become JSON's."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool | int | float | str):
        return value
    if is_scalar(value):
        return text(value)
    raise Invalid(f"{kind_of(value)} cannot be stored as an attribute; convert it with a step")


TEXT_LIMITS[json_value] = 1 << 62


def column(kind: str, name: str) -> Coerce | None:
    """The coercion a target of `kind` applies to its value (attributes: JSON-ready values)."""
    if kind == "identity" and name == "active":
        return boolean
    if kind == "identity" and name == MANAGER:  # the source's id for the manager
        return string_column(name, 256)
    if kind == "identity" and name in COLUMNS["identity"]:
        return string_column(name, _max_length(IdentityData, name))
    if kind == "group" and name == "display_name":
        return string_column(name, _max_length(GroupData, name))
    if kind == "membership":
        return {"member_kind": _member_kind, "member": _member}.get(name) or string_column(
            name, 256
        )
    return json_value


_external_id = string_column("external_id", 256)


def external_id(value: Any) -> str | None:
    """An external id as text, or None when the record has none."""
    coerced = _external_id(value)
    return coerced.strip() or None if coerced is not None else None


def attribute_path(kind: str, target: str) -> tuple[str, ...] | None:
    """The path under `attributes` a target writes to, or None for a column."""
    if target in COLUMNS[kind]:
        return None
    parts = target.split(".")
    return tuple(parts[1:]) if parts[0] == ATTRIBUTES else tuple(parts)


def target_problems(raw: Mapping[str, Any]) -> list[SpecProblem]:
    """Problems with the targets of a raw spec for its kind, found even when the rest is invalid."""
    kind, fields = raw.get("kind"), raw.get("fields")
    if kind not in COLUMNS or not isinstance(fields, dict):
        return []
    article = "an" if kind == "identity" else "a"
    problems = [SpecProblem(f"fields.{t}", m) for t, m in _name_problems(kind, fields)]
    missing = [t for t in REQUIRED.get(kind, ()) if t not in fields]
    if missing:
        needed = ", ".join(missing)
        problems.append(SpecProblem("fields", f"{article} {kind} mapping must map {needed}"))
    if kind != "membership" and raw.get("external_id") is None:
        problems.append(
            SpecProblem(
                "external_id",
                f"{article} {kind} mapping needs `external_id`: the source field (or a "
                "template) that identifies the record in its source",
            )
        )
    if kind == "resource" and not raw.get("type"):
        problems.append(SpecProblem("type", "a resource mapping needs `type`, e.g. repository"))
    if kind != "resource" and "type" in raw:
        message = f"`type` is for resources, not {article} {kind} mapping"
        problems.append(SpecProblem("type", message))
    return problems


def _name_problems(kind: str, fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for target in fields:
        parts = target.split(".")
        if target in ("external_id", ATTRIBUTES):
            found.append((target, f"`{target}` is not a field target; see the spec's top level"))
        elif not all(_NAME.fullmatch(p) for p in parts):
            found.append((target, "a target is a name or dotted names of letters, digits, _ and -"))
        elif kind == "membership" and target not in MEMBERSHIP_TARGETS:
            found.append((target, "memberships map only group, member and member_kind"))
        elif kind == "resource" and target in ("type", "key"):
            found.append((target, "a resource's type is the spec's `type`; its key is external_id"))
        elif len(parts) > 1 and parts[0] in COLUMNS[kind]:
            message = f"{parts[0]} is a column, not an object; use attributes.{target}"
            found.append((target, message))
    return found
