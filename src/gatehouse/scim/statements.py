"""What a SCIM User states about a person: the statement correlation and precedence merge."""

from __future__ import annotations

from typing import Any

from scim2_models import Resource

from gatehouse.identity.provisioning import Statement
from gatehouse.scim.mapping import SCIM_KEYS, identity_data


def statement(user: Resource[Any], active: bool) -> Statement:
    """Everything a User says: each column, and each SCIM-owned attribute (None when absent)."""
    data = identity_data(user, {}, active=active)
    doc = data.model_dump()
    doc["attributes"] = {key: data.attributes.get(key) for key in sorted(SCIM_KEYS)}
    return doc


def changed(before: Statement, after: Statement) -> Statement:
    """What a PATCH states: only the columns and attributes it changed."""
    stated = {k: v for k, v in after.items() if k != "attributes" and before.get(k) != v}
    old, new = before.get("attributes") or {}, after.get("attributes") or {}
    attributes = {k: new.get(k) for k in {*old, *new} if old.get(k) != new.get(k)}
    if attributes:
        stated["attributes"] = attributes
    return stated
