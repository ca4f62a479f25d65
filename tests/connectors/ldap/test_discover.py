"""`discover`: streams, field types from the schema and sampled entries, sensitivity."""

from __future__ import annotations

from typing import Any

from gatehouse.connectors.builtin.ldap import LdapConnector
from gatehouse.connectors.protocol import FieldInfo, Sensitivity, StreamInfo, SyncMode


def fields(stream: StreamInfo) -> dict[str, FieldInfo]:
    """A stream's fields by name."""
    return {f.name: f for f in stream.fields}


async def test_openldap_streams(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """users, groups, memberships with keys, cursor and typed, classified fields."""
    streams = {s.name: s for s in await connector.discover(openldap)}
    assert list(streams) == ["users", "groups", "memberships"]
    users = streams["users"]
    assert users.primary_key == ("id",)
    assert users.cursor_candidates == ("modifyTimestamp",)
    assert users.kind == "identity"
    assert set(users.supported_modes) == {SyncMode.full_refresh, SyncMode.incremental}
    f = fields(users)
    assert f["id"].format == "uuid" and f["id"].sensitivity is Sensitivity.public
    assert (f["mail"].type, f["mail"].sensitivity) == ("string", Sensitivity.confidential)
    assert f["telephoneNumber"].sensitivity is Sensitivity.confidential
    assert f["employeeNumber"].sensitivity is Sensitivity.confidential
    assert f["jpegPhoto"].sensitivity is Sensitivity.confidential  # allowed by inetOrgPerson
    assert f["objectClass"].type == "array"
    assert (f["modifyTimestamp"].type, f["modifyTimestamp"].format) == ("string", "date-time")
    assert f["memberOf"].type == "array"
    assert "userPassword" not in f  # never read unless named
    assert "entryUUID" not in f  # it is `id`
    groups = fields(streams["groups"])
    assert groups["member"].type == "array"
    assert streams["memberships"].primary_key == ("group_id", "member_dn")


async def test_named_secret_is_restricted(
    connector: LdapConnector, openldap: dict[str, Any]
) -> None:
    """A credential attribute named in the configuration is discovered as restricted."""
    config = {**openldap, "user_attributes": ["*", "userPassword"]}
    users = next(s for s in await connector.discover(config) if s.name == "users")
    assert fields(users)["userPassword"].sensitivity is Sensitivity.restricted


async def test_active_directory_fields(connector: LdapConnector, ad: dict[str, Any]) -> None:
    """AD users: GUID id, whenChanged cursor, active flag, integers and times typed."""
    users = next(s for s in await connector.discover(ad) if s.name == "users")
    f = fields(users)
    assert users.cursor_candidates == ("whenChanged",)
    assert f["id"].format == "uuid"
    assert f["active"].type == "boolean"
    assert f["userAccountControl"].type == "integer"
    assert (f["pwdLastSet"].type, f["pwdLastSet"].format) == ("string", "date-time")
    assert f["sAMAccountName"].type == "string"
    assert "objectGUID" not in f
