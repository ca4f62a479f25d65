"""PATCH (RFC 7644 §3.5.2) through scim2-models, with the shapes Entra and Okta send."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, PatchOp, Resource, SCIMException, ScimPolicy

from gatehouse.kit.problems import Problem
from gatehouse.scim.errors import from_scim, from_validation
from gatehouse.scim.http import known_fields
from gatehouse.scim.mapping import manager_value

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_OPERATIONS = 1000
# Entra removes by value and expects a value-path replace with no match to add the value.
POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
MEMBER_FILTER = re.compile(r'^\s*members\s*\[\s*value\s+eq\s+"([^"]*)"\s*\]\s*$', re.IGNORECASE)


def operations(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The operations of a PatchOp body, or 400."""
    ops = known_fields(payload, ("schemas", "Operations"), "A PatchOp").get("Operations")
    if not isinstance(ops, list) or not ops or not all(isinstance(op, dict) for op in ops):
        raise Problem(
            400,
            "A PatchOp needs Operations: a list of operation objects.",
            scim_type="invalidSyntax",
        )
    if len(ops) > MAX_OPERATIONS:
        raise Problem(400, f"At most {MAX_OPERATIONS} operations per PATCH.", scim_type="tooMany")
    return [{k.lower(): v for k, v in op.items()} for op in ops]


def _normalize(op: dict[str, Any], base: str) -> dict[str, Any]:
    """Entra sends a manager as a bare id; make it the reference the schema wants."""
    path = op.get("path")
    value = op.get("value")
    if isinstance(path, str) and path.lower().endswith(":manager") and "value" in op:
        op = {**op, "value": manager_value(value, base)}
    elif path is None and isinstance(value, dict):
        op = {
            **op,
            "value": {
                k: manager_value(v, base) if k.lower().endswith(":manager") else v
                for k, v in value.items()
            },
        }
    return op


def parse(model: type[Resource[Any]], ops: list[dict[str, Any]], base: str) -> PatchOp[Any]:
    """A validated PatchOp for a resource type, or the SCIM error for it."""
    body = {"schemas": [PATCH_OP], "Operations": [_normalize(op, base) for op in ops]}
    try:
        return PatchOp[model].model_validate(  # type: ignore[valid-type]
            body, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=POLICY
        )
    except ValidationError as exc:
        raise from_validation(exc) from None


def apply(patch: PatchOp[Any], resource: Resource[Any]) -> bool:
    """Apply a patch in place; whether anything changed."""
    try:
        return patch.patch(resource, scim_policy=POLICY)
    except SCIMException as exc:
        raise from_scim(exc) from None
    except ValidationError as exc:
        raise from_validation(exc) from None


@dataclass
class MemberChanges:
    """The net effect of a PATCH's member operations."""

    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    exactly: list[str] | None = None  # replace the whole membership with these

    def _add(self, ids: list[str]) -> None:
        if self.exactly is not None:
            self.exactly += [i for i in ids if i not in self.exactly]
            return
        self.remove = [i for i in self.remove if i not in ids]
        self.add += [i for i in ids if i not in self.add]

    def _remove(self, ids: list[str]) -> None:
        if self.exactly is not None:
            self.exactly = [i for i in self.exactly if i not in ids]
            return
        self.add = [i for i in self.add if i not in ids]
        self.remove += [i for i in ids if i not in self.remove]

    def record(self, action: str, ids: list[str]) -> None:
        """Fold one member operation in."""
        if action == "add":
            self._add(ids)
        elif action == "remove":
            self._remove(ids)
        else:
            self.add, self.remove, self.exactly = [], [], list(dict.fromkeys(ids))


def member_ids(value: Any) -> list[str]:
    """The ids of a members value: [{"value": id, ...}, ...] (a single object is accepted)."""
    entries = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for entry in entries:
        member = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(member, str) or not member:
            raise Problem(
                400,
                "Each member needs a string `value` (the member's id).",
                scim_type="invalidValue",
            )
        ids.append(member)
    return list(dict.fromkeys(ids))


def _member_op(op: dict[str, Any]) -> tuple[str, list[str]] | bool | None:
    """A member operation as (action, ids); None when it does not touch members; False when
    it does in a way only the general path handles."""
    action = str(op.get("op", "")).lower()
    path = op.get("path")
    if not isinstance(path, str):
        return None
    lowered = path.strip().lower()
    if lowered == "members":
        value = op.get("value")
        if action == "remove" and value is None:
            return "set", []
        if action == "add":
            return "add", member_ids(value)
        if action == "remove":
            return "remove", member_ids(value)
        if action == "replace":
            return "set", member_ids(value) if value is not None else []
        return False
    match = MEMBER_FILTER.match(path)
    if match and action == "remove":
        return "remove", [match.group(1)]
    return False if lowered.startswith("members") else None


def split_members(
    ops: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], MemberChanges] | None:
    """Operations on other attributes, and the member changes; None when a member operation
    needs the general path (a filter other than `value eq`, or a sub-attribute)."""
    others: list[dict[str, Any]] = []
    changes = MemberChanges()
    for op in ops:
        value = op.get("value")
        action = str(op.get("op", "")).lower()
        if op.get("path") is None and isinstance(value, dict) and action in ("add", "replace"):
            key = next((k for k in value if k.lower() == "members"), None)
            if key is not None:
                changes.record("add" if action == "add" else "set", member_ids(value[key]))
                rest = {k: v for k, v in value.items() if k != key}
                if rest:
                    others.append({**op, "value": rest})
                continue
        found = _member_op(op)
        if found is False:
            return None
        if found is None:
            others.append(op)
        else:
            assert not isinstance(found, bool)
            changes.record(*found)
    return others, changes
