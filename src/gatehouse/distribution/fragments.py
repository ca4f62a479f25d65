"""The value of each document entry (user, group, resource), encoded as OPA hashes JSON."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from gatehouse.distribution.shaping import Shaper

# Identity columns and their names in the document (SCIM's spelling).
USER_COLUMNS = {
    "user_name": "userName",
    "external_id": "externalId",
    "display_name": "displayName",
    "given_name": "givenName",
    "family_name": "familyName",
    "email": "email",
    "title": "title",
    "employee_number": "employeeNumber",
    "department": "department",
    "organization": "organization",
    "cost_center": "costCenter",
    "manager_id": "manager",
    "active": "active",
    "status": "status",
    "risk_score": "riskScore",
}
KEY_COLUMN = {"id": "id", "userName": "user_name", "email": "email"}


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, U+2028/2029 escaped: the bytes OPA hashes for a JSON value."""
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    if b"\xe2\x80\xa8" in raw or b"\xe2\x80\xa9" in raw:
        raw = raw.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return raw


def digest(body: bytes) -> str:
    """A short digest of an encoded value (change detection, not security)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def role_names(value: Any) -> list[str]:
    """SCIM roles (strings or `{value: ...}` objects) as a sorted list of names."""
    names = set()
    for item in value if isinstance(value, list) else []:
        name = item.get("value") if isinstance(item, dict) else item
        if isinstance(name, str | int) and str(name):
            names.add(str(name))
    return sorted(names)


def user_value(row: Mapping[str, Any], groups: Iterable[str], shaper: Shaper) -> dict[str, Any]:
    """A user's entry: attributes, then the store's columns, transitive groups and roles."""
    attributes = dict(row.get("attributes") or {})
    value: dict[str, Any] = {k: v for k, v in attributes.items() if k not in ("groups", "roles")}
    value.update({name: row.get(column) for column, name in USER_COLUMNS.items()})
    value["id"] = row["id"]
    value["groups"] = sorted(groups)
    value["roles"] = role_names(attributes.get("roles"))
    return shaper.shape("users", value)


def group_value(row: Mapping[str, Any], parents: Iterable[str], shaper: Shaper) -> dict[str, Any]:
    """A group's entry: attributes, name, external id and the groups it sits in directly."""
    value: dict[str, Any] = dict(row.get("attributes") or {})
    value.update(
        {
            "id": row["id"],
            "displayName": row["display_name"],
            "externalId": row.get("external_id"),
            "parents": sorted(parents),
        }
    )
    return shaper.shape("groups", value)


def resource_value(row: Mapping[str, Any], shaper: Shaper) -> dict[str, Any]:
    """A resource's entry: its attributes with its id, type and key."""
    value: dict[str, Any] = dict(row.get("attributes") or {})
    value.update({"id": row["id"], "type": row["type"], "key": row["key"]})
    return shaper.shape("resources", value)


def user_key(row: Mapping[str, Any], key: str) -> str | None:
    """The key a user is filed under, or None when it has no value for it."""
    found = row.get(KEY_COLUMN[key])
    if found is None or found == "":
        return None
    return str(found).lower() if key == "email" else str(found)
