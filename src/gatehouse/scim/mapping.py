"""SCIM User/Group documents to and from the identity store's records and data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import ValidationError
from scim2_models import Context, Resource

from gatehouse.identity.models import Group, Identity
from gatehouse.identity.schemas import GroupData, IdentityData
from gatehouse.kit.problems import Problem
from gatehouse.scim.http import etag
from gatehouse.scim.schema import ENTERPRISE, USER

R = TypeVar("R", bound=Resource[Any])
# SCIM attributes without a column: kept under these keys of `attributes`, SCIM-shaped.
SCIM_KEYS = frozenset(
    {
        "name",
        "nickName",
        "profileUrl",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509Certificates",
        "division",
    }
)
ENTERPRISE_COLUMNS = {
    "employeeNumber": "employee_number",
    "department": "department",
    "organization": "organization",
    "costCenter": "cost_center",
}
# The store's names for the errors it reports, in SCIM's words.
SCIM_NAMES = {
    "user_name": "userName",
    "external_id": "externalId",
    "display_name": "displayName",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "email": "emails.value",
    "manager_id": f"{ENTERPRISE}:manager.value",
} | {column: f"{ENTERPRISE}:{scim}" for scim, column in ENTERPRISE_COLUMNS.items()}
# Read-only, write-only or derived: never stored from a request (passwords are dropped).
NOT_STORED = ("schemas", "id", "meta", "groups", "password")


def _meta(kind: str, record: Identity | Group, base: str, endpoint: str) -> dict[str, Any]:
    # A record never changed reports lastModified equal to created (RFC 7643 §3.1).
    modified = record.created_at if record.version == 1 else record.updated_at
    return {
        "resourceType": kind,
        "created": record.created_at.isoformat(),
        "lastModified": modified.isoformat(),
        "location": f"{base}/{endpoint}/{record.id}",
        "version": etag(record.version),
    }


def _emails(identity: Identity) -> list[dict[str, Any]]:
    """The stored list, with the `email` column (which other sources may set) as primary."""
    emails = [dict(e) for e in identity.attributes.get("emails") or [] if isinstance(e, dict)]
    primary = identity.email
    if primary and not any(str(e.get("value", "")).lower() == primary.lower() for e in emails):
        for entry in emails:
            entry.pop("primary", None)
        emails.insert(0, {"value": primary, "primary": True})
    return emails


def user_document(
    identity: Identity, groups: Iterable[tuple[str, str]], base: str
) -> dict[str, Any]:
    """The SCIM User of an identity; `groups` are its direct groups as (id, name)."""
    stored = identity.attributes or {}
    doc: dict[str, Any] = {k: v for k, v in stored.items() if k in SCIM_KEYS and k != "division"}
    name = {**(stored.get("name") or {}), "givenName": identity.given_name}
    name["familyName"] = identity.family_name
    doc.update(
        id=identity.id,
        userName=identity.user_name,
        externalId=identity.external_id,
        displayName=identity.display_name,
        title=identity.title,
        active=identity.active,
        name={k: v for k, v in name.items() if v is not None},
        emails=_emails(identity),
        groups=[
            {"value": gid, "display": label, "$ref": f"{base}/Groups/{gid}", "type": "direct"}
            for gid, label in groups
        ],
        meta=_meta("User", identity, base, "Users"),
    )
    ext = {scim: getattr(identity, column) for scim, column in ENTERPRISE_COLUMNS.items()}
    ext["division"] = stored.get("division")
    if identity.manager_id:
        ext["manager"] = {
            "value": identity.manager_id,
            "$ref": f"{base}/Users/{identity.manager_id}",
        }
    ext = {k: v for k, v in ext.items() if v is not None}
    if ext:
        doc[ENTERPRISE] = ext
    return {k: v for k, v in doc.items() if v not in (None, [], {})}


def group_document(
    group: Group, members: Iterable[tuple[str, str, str]] | None, base: str
) -> dict[str, Any]:
    """The SCIM Group of a group; `members` are (id, "identity"|"group", display)."""
    doc: dict[str, Any] = {
        "id": group.id,
        "displayName": group.display_name,
        "meta": _meta("Group", group, base, "Groups"),
    }
    if group.external_id:
        doc["externalId"] = group.external_id
    if members:
        doc["members"] = [
            {
                "value": member,
                "display": label,
                "type": "User" if kind == "identity" else "Group",
                "$ref": f"{base}/{'Users' if kind == 'identity' else 'Groups'}/{member}",
            }
            for member, kind, label in members
        ]
    return doc


def to_model(model: type[R], doc: dict[str, Any]) -> R:
    """A SCIM model of stored data; a stored value the schema refuses is left out."""
    for _ in range(8):
        try:
            return model.model_validate(doc)
        except ValidationError as exc:
            doc = _without(doc, exc)
    return model.model_validate(
        {k: doc[k] for k in ("id", "meta", "userName", "displayName") if k in doc}
    )


def _without(doc: dict[str, Any], exc: ValidationError) -> dict[str, Any]:
    """The document without the attributes a validation error points at."""
    doc = dict(doc)
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if not loc:
            continue
        top = next((key for key in doc if key.lower() == loc[0].lower()), loc[0])
        if top == ENTERPRISE and len(loc) > 1 and isinstance(doc.get(top), dict):
            doc[top] = {k: v for k, v in doc[top].items() if k.lower() != loc[1].lower()}
        else:
            doc.pop(top, None)
    return doc


def normalize_user(payload: dict[str, Any], base: str) -> dict[str, Any]:
    """Accept the shapes IdPs send: a manager as a bare id, or without `$ref`."""
    for key, ext in payload.items():
        if key.lower() == ENTERPRISE.lower() and isinstance(ext, dict):
            payload[key] = {**ext}
            for name, manager in ext.items():
                if name.lower() == "manager":
                    payload[key][name] = manager_value(manager, base)
    return payload


def manager_value(manager: Any, base: str) -> Any:
    """A manager reference as the schema wants it ({"value", "$ref"}), or None when cleared.

    Entra sends a bare id, or a one-element list with `"$ref": null`.
    """
    if isinstance(manager, list) and len(manager) <= 1:
        manager = manager[0] if manager else None
    if isinstance(manager, str):
        manager = {"value": manager}
    if isinstance(manager, dict):
        value = manager.get("value")
        if value in (None, ""):
            return None
        if manager.get("$ref") is None and isinstance(value, str):
            return {**manager, "$ref": f"{base}/Users/{value}"}
    return manager


def identity_data(user: Resource[Any], kept: dict[str, Any], active: bool) -> IdentityData:
    """What a SCIM User says about a person; `kept` are attributes other sources own."""
    doc = user.model_dump(scim_ctx=Context.DEFAULT)
    for key in NOT_STORED:
        doc.pop(key, None)
    name = dict(doc.pop("name", None) or {})
    ext = dict(doc.pop(ENTERPRISE, None) or {})
    manager = ext.pop("manager", None) or {}
    emails = doc.get("emails") or []
    primary = next((e for e in emails if e.get("primary")), emails[0] if emails else {})
    columns: dict[str, Any] = {
        "user_name": doc.pop("userName", None),
        "external_id": doc.pop("externalId", None),
        "display_name": doc.pop("displayName", None),
        "title": doc.pop("title", None),
        "given_name": name.pop("givenName", None),
        "family_name": name.pop("familyName", None),
        "email": primary.get("value"),
        "manager_id": manager.get("value"),
        "active": doc.pop("active", active),
    }
    for scim, column in ENTERPRISE_COLUMNS.items():
        columns[column] = ext.pop(scim, None)
    scim_attributes = {k: v for k, v in doc.items() if k in SCIM_KEYS}
    if name:
        scim_attributes["name"] = name
    if ext.get("division"):
        scim_attributes["division"] = ext["division"]
    attributes = {k: v for k, v in kept.items() if k not in SCIM_KEYS} | scim_attributes
    try:
        return IdentityData(**columns, attributes=attributes)
    except ValidationError as exc:
        raise stored_value_error(exc) from None


def group_data(group: Resource[Any], kept: dict[str, Any]) -> GroupData:
    """What a SCIM Group says about a group (members aside)."""
    doc = group.model_dump(scim_ctx=Context.DEFAULT)
    try:
        return GroupData(
            display_name=doc.get("displayName") or "",
            external_id=doc.get("externalId"),
            attributes=dict(kept),
        )
    except ValidationError as exc:
        raise stored_value_error(exc) from None


def stored_value_error(exc: ValidationError) -> Problem:
    """400 invalidValue for a value the store cannot hold (too long, empty)."""
    first = exc.errors()[0]
    where = ".".join(SCIM_NAMES.get(str(part), str(part)) for part in first["loc"])
    return Problem(400, f"{where}: {first['msg']}.", scim_type="invalidValue")


def user_model(identity: Identity, groups: Iterable[tuple[str, str]], base: str) -> Resource[Any]:
    """The SCIM User model of an identity."""
    return to_model(USER, user_document(identity, groups, base))
