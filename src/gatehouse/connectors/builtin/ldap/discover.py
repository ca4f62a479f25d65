"""`discover`: the streams with fields typed from the schema and sampled entries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from gatehouse.connectors.builtin.ldap.settings import SECRET_ATTRIBUTES, Flavor
from gatehouse.connectors.builtin.ldap.streams import Reader, query
from gatehouse.connectors.builtin.ldap.values import single_valued, value_kind
from gatehouse.connectors.protocol import FieldInfo, Sensitivity, StreamInfo, SyncMode
from gatehouse.connectors.sensitivity import suggest

SAMPLE = 50
LEVELS = {
    "jpegphoto": Sensitivity.confidential,
    "thumbnailphoto": Sensitivity.confidential,
    "photo": Sensitivity.confidential,
    "employeenumber": Sensitivity.confidential,
    "employeeid": Sensitivity.confidential,
    "objectsid": Sensitivity.internal,
    "sidhistory": Sensitivity.internal,
    "usercertificate": Sensitivity.internal,
    "dn": Sensitivity.internal,
    "id": Sensitivity.public,
}
MODES = (SyncMode.full_refresh, SyncMode.incremental)
MEMBERSHIP_FIELDS = (
    FieldInfo("group_id", "string", nullable=False, sensitivity=Sensitivity.internal),
    FieldInfo("member_id", "string", sensitivity=Sensitivity.internal),
    FieldInfo("member_kind", "string", nullable=False, sensitivity=Sensitivity.internal),
    FieldInfo("group_dn", "string", nullable=False, sensitivity=Sensitivity.internal),
    FieldInfo("member_dn", "string", nullable=False, sensitivity=Sensitivity.internal),
)


def sensitivity(name: str) -> Sensitivity:
    """The suggested level for an LDAP attribute."""
    low = name.lower()
    if low in SECRET_ATTRIBUTES:
        return Sensitivity.restricted
    return LEVELS.get(low) or suggest(name)


async def _sample(reader: Reader, stream: str) -> list[str]:
    """Attribute names found on the first entries of a stream."""
    q = query(reader.settings, stream)
    pages = reader.session.pages(q.base, q.filter, q.attributes, SAMPLE, None)
    try:
        page = await asyncio.to_thread(next, pages, None)
    finally:
        await asyncio.to_thread(pages.close)
    names: dict[str, None] = {}
    for _, attrs in page.entries if page else ():
        names.update(dict.fromkeys(attrs))
    return list(names)


def _fields(reader: Reader, stream: str, names: Iterable[str]) -> tuple[FieldInfo, ...]:
    settings, schema = reader.settings, reader.schema
    id_name = str(settings.default("id_attribute"))
    scalars = frozenset(n.lower() for n in settings.default("scalar_attributes"))
    id_format = value_kind(id_name, schema)[2] or ("uuid" if "uuid" in id_name.lower() else None)
    fields = [
        FieldInfo("dn", "string", nullable=False, sensitivity=sensitivity("dn")),
        FieldInfo("id", "string", nullable=False, format=id_format, sensitivity=Sensitivity.public),
    ]
    if stream == "users" and settings.flavor is Flavor.active_directory:
        fields.append(FieldInfo("active", "boolean", sensitivity=Sensitivity.internal))
    if stream == "users":  # the manager's DN resolved to the manager's id
        fields.append(FieldInfo("manager_id", "string", sensitivity=Sensitivity.internal))
    requested = {n.lower() for n in query(settings, stream).attributes}
    seen = {"dn", "id", "active", "manager_id", id_name.lower()}
    for raw in names:
        kind = schema.attribute(raw)
        name = kind.name if kind else raw.split(";", 1)[0]
        low = name.lower()
        if low in seen or (low in SECRET_ATTRIBUTES and low not in requested):
            continue
        seen.add(low)
        _, json_type, fmt = value_kind(name, schema)
        many = not single_valued(name, schema, scalars)
        fields.append(
            FieldInfo(
                name, "array" if many else json_type, format=fmt, sensitivity=sensitivity(name)
            )
        )
    return tuple(fields)


async def streams(reader: Reader) -> list[StreamInfo]:
    """users, groups and memberships as this directory and configuration shape them."""
    settings = reader.settings
    cursor = str(settings.default("cursor_attribute"))
    found: list[StreamInfo] = []
    for stream, kind in (("users", "identity"), ("groups", "group")):
        q = query(settings, stream)
        names: list[str] = []
        if any(a == "*" for a in q.attributes):
            classes = settings.default(f"{stream[:-1]}_object_classes")
            names += reader.schema.allowed(classes)
        names += [a for a in q.attributes if a not in ("*", "+")]
        names += await _sample(reader, stream)
        fields = _fields(reader, stream, names)
        cursor_field = next((f.name for f in fields if f.name.lower() == cursor.lower()), cursor)
        found.append(
            StreamInfo(stream, fields, ("id",), (cursor_field,), kind, supported_modes=MODES)
        )
    found.append(
        StreamInfo(
            "memberships",
            MEMBERSHIP_FIELDS,
            ("group_id", "member_dn"),
            (),
            "membership",
            supported_modes=MODES,
        )
    )
    return found
