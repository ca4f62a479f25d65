"""An open, bound directory: the session plus what the server says about itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from gatehouse.connectors.builtin.ldap import schema as schemas
from gatehouse.connectors.builtin.ldap.client import LdapError, Session, SessionFactory, connect
from gatehouse.connectors.builtin.ldap.controls import SORT_OID
from gatehouse.connectors.builtin.ldap.schema import Schema
from gatehouse.connectors.builtin.ldap.settings import LdapSettings
from gatehouse.connectors.builtin.ldap.streams import Reader
from gatehouse.connectors.environment import Environment

log = structlog.get_logger("gatehouse.connectors.ldap")
ROOT_DSE_ATTRIBUTES = (
    "namingContexts",
    "defaultNamingContext",
    "supportedControl",
    "supportedLDAPVersion",
    "subschemaSubentry",
    "currentTime",
    "vendorName",
    "vendorVersion",
    "forestFunctionality",
    "dnsHostName",
)


def root_dse(session: Session) -> dict[str, list[bytes]]:
    """The root DSE's interesting attributes (empty when the server hides it)."""
    try:
        found = session.search("", "base", "(objectClass=*)", ROOT_DSE_ATTRIBUTES)
    except LdapError:
        return {}
    return {k: v for k, v in found[0][1].items()} if found else {}


def first(attrs: dict[str, list[bytes]], name: str) -> str | None:
    """The first value of an attribute (any case) as text."""
    values = next((v for k, v in attrs.items() if k.lower() == name.lower()), None)
    return values[0].decode(errors="replace") if values else None


def every(attrs: dict[str, list[bytes]], name: str) -> list[str]:
    """All values of an attribute (any case) as text."""
    values = next((v for k, v in attrs.items() if k.lower() == name.lower()), [])
    return [v.decode(errors="replace") for v in values]


def read_schema(session: Session, root: dict[str, list[bytes]]) -> Schema:
    """The subschema subentry's attribute types and object classes (empty if unreadable)."""
    where = first(root, "subschemaSubentry") or "cn=Subschema"
    try:
        found = session.search(
            where, "base", "(objectClass=*)", ["attributeTypes", "objectClasses"]
        )
    except LdapError as exc:
        log.info("ldap_schema_unreadable", subschema=where, error=str(exc))
        return Schema()
    if not found:
        return Schema()
    attrs = found[0][1]
    return schemas.parse(every(attrs, "attributeTypes"), every(attrs, "objectClasses"))


@asynccontextmanager
async def opened(
    settings: LdapSettings,
    env: Environment,
    factory: SessionFactory | None = None,
) -> AsyncIterator[Reader]:
    """A bound session with its root DSE and schema, closed on exit."""
    session = await connect(settings, env, factory)
    try:
        root = await asyncio.to_thread(root_dse, session)
        schema = await asyncio.to_thread(read_schema, session, root)
        sortable = settings.server_side_sort == "auto" and SORT_OID in every(
            root, "supportedControl"
        )
        yield Reader(session, settings, schema, root, sortable)
    finally:
        await asyncio.to_thread(session.close)
