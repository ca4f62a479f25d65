"""Full reads from a real slapd through both client libraries: records, pages, memberships."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from gatehouse.connectors.builtin.ldap import LdapConnector
from gatehouse.connectors.protocol import ConnectorError, SchemaChanged, Selection, SyncMode
from gatehouse.connectors.registry import connector_type
from tests.connectors.ldap import tree
from tests.connectors.ldap.conftest import by, read_all
from tests.connectors.ldap.directory import Directory

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_registered_under_ldap() -> None:
    """The entry point registers the connector as `ldap`; the password is the one secret."""
    assert connector_type("ldap") is LdapConnector
    spec = LdapConnector.spec()
    secrets = [k for k, v in spec["properties"].items() if v.get("x-secret")]
    assert secrets == ["password"]
    assert {"urls", "base_dn"} <= set(spec["required"])


async def test_openldap_users(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """Users come as plain dicts: scalars, lists, ids, ISO times; no password hashes."""
    records, _ = await read_all(connector, openldap, "users")
    users = by(records, "uid")
    assert set(users) == {"alice", "bob", "carol", "dave"}
    alice = users["alice"]
    assert UUID.match(alice["id"])
    assert alice["dn"] == f"uid=alice,{tree.PEOPLE}"
    assert alice["mail"] == "alice@example.org"  # multi-valued in the schema, read as scalar
    assert alice["employeeNumber"] == "1001"  # single-valued in the schema
    assert alice["objectClass"] == ["inetOrgPerson"]
    assert ISO.match(alice["modifyTimestamp"])
    assert "entryUUID" not in alice
    assert "userPassword" not in alice
    assert sorted(alice["memberOf"]) == sorted(
        f"cn={g},{tree.GROUPS}" for g in ("engineering", "everyone", "ghosts")
    )
    assert users["bob"]["mail"] == "bob@example.org"
    assert users["bob"]["displayName"] == "Bob the Builder"
    assert "mail" not in users["dave"]
    assert len({u["id"] for u in records}) == 4


async def test_secret_attributes_only_when_named(
    connector: LdapConnector, directory: Directory, openldap: dict[str, Any]
) -> None:
    """userPassword is read only when the configuration names it (and ACLs allow it)."""
    config = {
        **openldap,
        "bind_dn": f"cn=admin,{tree.OPENLDAP_BASE}",
        "password": "admin-secret",
        "user_attributes": ["uid", "userPassword"],
    }
    records, _ = await read_all(connector, config, "users")
    alice = by(records, "uid")["alice"]
    assert alice["userPassword"] == [base64.b64encode(b"alice-password").decode()]  # octets
    assert set(alice) == {"dn", "id", "uid", "userPassword", "modifyTimestamp", "memberOf"}


async def test_pages_are_batches_with_checkpoints(
    connector: LdapConnector, openldap: dict[str, Any]
) -> None:
    """page_size entries per batch, each with state; the last batch completes the state."""
    records, batches = await read_all(connector, {**openldap, "page_size": 1}, "users")
    assert [len(b.records) for b in batches] == [1, 1, 1, 1, 0]
    assert all(b.state is not None for b in batches)
    assert [b.state["complete"] for b in batches if b.state] == [False] * 4 + [True]
    assert len(records) == 4


async def test_groups_and_nested_memberships(
    connector: LdapConnector, openldap: dict[str, Any]
) -> None:
    """Groups carry member DNs; memberships resolve them to ids, groups nested as groups."""
    groups, _ = await read_all(connector, openldap, "groups")
    named = by(groups, "cn")
    assert set(named) == {"platform", "engineering", "everyone", "ghosts"}
    assert named["engineering"]["description"] == "Builds things"
    assert len(named["everyone"]["member"]) == 5
    users = by((await read_all(connector, openldap, "users"))[0], "uid")
    edges, _ = await read_all(connector, openldap, "memberships")
    got = {(e["group_id"], e["member_id"], e["member_kind"]) for e in edges}
    gid = {name: g["id"] for name, g in named.items()}
    uid = {name: u["id"] for name, u in users.items()}
    expected = {
        (gid["platform"], uid["carol"], "identity"),
        (gid["engineering"], uid["alice"], "identity"),
        (gid["engineering"], uid["bob"], "identity"),
        (gid["engineering"], gid["platform"], "group"),
        (gid["everyone"], gid["engineering"], "group"),
        (gid["ghosts"], None, "unknown"),
        (gid["ghosts"], uid["alice"], "identity"),  # the member DN differs in case and spacing
    } | {(gid["everyone"], uid[u], "identity") for u in ("alice", "bob", "carol", "dave")}
    assert got == expected
    ghost = next(e for e in edges if e["member_id"] is None)
    assert ghost["member_dn"] == f"uid=ghost,{tree.PEOPLE}"


async def test_active_directory_conventions(connector: LdapConnector, ad: dict[str, Any]) -> None:
    """objectGUID as the id, disabled accounts inactive, computers left out, AD times as ISO."""
    records, _ = await read_all(connector, ad, "users")
    users = by(records, "sAMAccountName")
    assert set(users) == {"erin", "frank", "grace"}
    erin = users["erin"]
    assert erin["id"] == str(tree.GUIDS["erin"])
    assert erin["active"] is True
    assert users["frank"]["active"] is False
    assert users["grace"]["active"] is True
    assert erin["userPrincipalName"] == "erin@corp.example.com"
    assert erin["objectSid"] == tree.ERIN_SID
    assert erin["whenChanged"] == "2024-03-01T12:00:00Z"
    assert erin["pwdLastSet"] == "2024-03-06T12:00:00Z"
    assert erin["accountExpires"] is None  # "never"
    assert erin["userAccountControl"] == 512
    assert erin["memberOf"] == [f"cn=Staff,{tree.AD_GROUPS}"]


async def test_active_directory_memberships(connector: LdapConnector, ad: dict[str, Any]) -> None:
    """AD groups nest: Staff holds Erin, Frank and the Admins group, which holds Grace."""
    edges, _ = await read_all(connector, ad, "memberships")
    got = {(e["group_id"], e["member_id"], e["member_kind"]) for e in edges}
    g = {k: str(v) for k, v in tree.GUIDS.items()}
    assert got == {
        (g["staff"], g["erin"], "identity"),
        (g["staff"], g["frank"], "identity"),
        (g["staff"], g["admins"], "group"),
        (g["admins"], g["grace"], "identity"),
    }


async def test_ldaps(connector: LdapConnector, directory: Directory, client: str) -> None:
    """ldaps:// with the test CA reads the same users."""
    config = {
        "urls": [directory.ldaps_uri],
        "ca_pem": directory.certs.ca_pem,
        "bind_dn": tree.READER_DN,
        "password": tree.READER_PASSWORD,
        "base_dn": tree.PEOPLE,
        "backend": client,
    }
    records, _ = await read_all(connector, config, "users")
    assert {r["uid"] for r in records} == {"alice", "bob", "carol", "dave"}


async def test_unknown_stream_and_bad_state(
    connector: LdapConnector, openldap: dict[str, Any]
) -> None:
    """A stream that does not exist, or state from elsewhere, is a clear config error."""
    with pytest.raises(ConnectorError, match="no stream 'people'") as caught:
        await read_all(connector, openldap, "people")
    assert caught.value.failure == "config"
    with pytest.raises(ConnectorError, match="clear the stream's state"):
        await read_all(connector, openldap, "users", SyncMode.incremental, {"cursor": 5})


async def test_selection_reads_only_what_the_mapping_needs(
    connector: LdapConnector, openldap: dict[str, Any]
) -> None:
    """Selected fields narrow the attributes read; the id and DN always come."""
    selection = Selection(fields=("id", "uid", "mail"))
    batches = connector.read(openldap, "users", SyncMode.full_refresh, None, selection)
    records = [r async for b in batches for r in b.records]
    alice = by(records, "uid")["alice"]
    assert set(alice) <= {"dn", "id", "uid", "mail", "modifyTimestamp", "memberOf"}
    assert alice["mail"] == "alice@example.org"


@pytest.mark.parametrize(
    ("stream", "selection", "named"),
    [
        ("users", Selection(fields=("uid", "shoeSize")), "shoeSize"),
        ("users", Selection(fields=("active",)), "active"),
        ("users", Selection(cursor_field="mail"), "mail"),
        ("memberships", Selection(fields=("group_id", "weight")), "weight"),
    ],
)
async def test_selection_of_a_missing_field(
    connector: LdapConnector,
    openldap: dict[str, Any],
    stream: str,
    selection: Selection,
    named: str,
) -> None:
    """A field (or cursor) the directory does not have fails the read, naming it."""
    with pytest.raises(SchemaChanged, match=named):
        await anext(aiter(connector.read(openldap, stream, SyncMode.full_refresh, None, selection)))


async def test_selected_cursor(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """The selection's cursor replaces the configured one."""
    selection = Selection(cursor_field="createTimestamp")
    full = [
        b async for b in connector.read(openldap, "users", SyncMode.full_refresh, None, selection)
    ]
    assert all("createTimestamp" in r for b in full for r in b.records)
    state = full[-1].state
    reader = connector.read(openldap, "users", SyncMode.incremental, state, selection)
    assert [r async for b in reader for r in b.records] == []
