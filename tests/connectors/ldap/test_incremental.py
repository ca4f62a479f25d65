"""Incremental reads by modifyTimestamp / whenChanged, page checkpoints and resuming."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gatehouse.connectors.builtin.ldap import LdapConnector
from gatehouse.connectors.protocol import CheckFailure, ConnectorError, SyncMode
from tests.connectors.ldap import tree
from tests.connectors.ldap.conftest import by, person, read_all
from tests.connectors.ldap.directory import Directory

INCREMENTAL = SyncMode.incremental


@pytest.fixture
def people(directory: Directory, sandbox: str, openldap: dict[str, Any]) -> dict[str, Any]:
    """Five people of their own, and a configuration reading only them."""
    directory.add("\n".join(person(f"p{i}", sandbox, mail=f"p{i}@example.org") for i in range(5)))
    return {**openldap, "user_base_dn": sandbox}


@pytest.fixture
def ad_sandbox(directory: Directory) -> Iterator[str]:
    """An empty OU of the AD-shaped tree for one test's own entries."""
    dn = f"ou=t{uuid.uuid4().hex[:12]},{tree.AD_BASE}"
    directory.add(f"dn: {dn}\nobjectClass: organizationalUnit\nou: {dn[3:16]}\n")
    yield dn
    directory.ldapdelete(dn, recursive=True)


def ad_user(name: str, parent: str, changed: str) -> str:
    """LDIF for an AD-shaped user last changed at `changed`."""
    return (
        f"dn: cn={name},{parent}\nobjectClass: user\ncn: {name}\nsn: {name}\n"
        f"sAMAccountName: {name}\nuserAccountControl: 512\n"
        f"objectGUID:: {tree.b64(uuid.uuid4().bytes_le)}\nwhenChanged: {changed}\n"
    )


async def test_incremental_after_modify(
    connector: LdapConnector, directory: Directory, people: dict[str, Any], sandbox: str
) -> None:
    """Unchanged entries are not emitted again; a modified and an added one are."""
    first, batches = await read_all(connector, people, "users")
    assert len(first) == 5
    state = batches[-1].state
    assert state is not None and state["complete"] and state["cursor"]
    again, _ = await read_all(connector, people, "users", INCREMENTAL, state)
    assert again == []
    directory.modify(f"dn: uid=p3,{sandbox}\nchangetype: modify\nreplace: mail\nmail: new@x.org\n")
    changed, batches = await read_all(connector, people, "users", INCREMENTAL, state)
    assert [(r["uid"], r["mail"]) for r in changed] == [("p3", "new@x.org")]
    directory.add(person("p9", sandbox))
    added, _ = await read_all(connector, people, "users", INCREMENTAL, batches[-1].state)
    assert [r["uid"] for r in added] == ["p9"]
    full, _ = await read_all(connector, people, "users", SyncMode.full_refresh, state)
    assert len(full) == 6  # a full refresh ignores a completed state


async def test_change_in_the_boundary_second(
    connector: LdapConnector, directory: Directory, people: dict[str, Any], sandbox: str
) -> None:
    """Without look-back the cursor is the newest second; a change within it is still found."""
    config = {**people, "cursor_lookback_seconds": 0}
    _, batches = await read_all(connector, config, "users")
    state = batches[-1].state
    assert state is not None and len(state["seen"]) >= 1
    directory.modify(f"dn: uid=p0,{sandbox}\nchangetype: modify\nreplace: sn\nsn: Changed\n")
    changed, _ = await read_all(connector, config, "users", INCREMENTAL, state)
    assert [(r["uid"], r["sn"]) for r in changed] == [("p0", "Changed")]


async def test_active_directory_incremental(
    connector: LdapConnector, directory: Directory, ad: dict[str, Any], ad_sandbox: str
) -> None:
    """whenChanged drives AD reads; a change that kept whenChanged is caught by its content."""
    directory.add(
        ad_user("u1", ad_sandbox, "20240101000000.0Z")
        + "\n"
        + ad_user("u2", ad_sandbox, "20240102000000.0Z")
    )
    config = {**ad, "user_base_dn": ad_sandbox}
    first, batches = await read_all(connector, config, "users")
    state = batches[-1].state
    assert state is not None
    assert {r["sAMAccountName"] for r in first} == {"u1", "u2"}
    assert state["cursor"] == "20240102000000.0Z"
    assert (await read_all(connector, config, "users", INCREMENTAL, state))[0] == []
    directory.modify(
        f"dn: cn=u1,{ad_sandbox}\nchangetype: modify\nreplace: userAccountControl\n"
        "userAccountControl: 514\n-\nreplace: whenChanged\nwhenChanged: 20240105000000.0Z\n"
    )
    changed, later = await read_all(connector, config, "users", INCREMENTAL, state)
    assert [(r["sAMAccountName"], r["active"]) for r in changed] == [("u1", False)]
    directory.modify(
        f"dn: cn=u1,{ad_sandbox}\nchangetype: modify\nreplace: department\ndepartment: Ops\n"
    )
    same_time, _ = await read_all(connector, config, "users", INCREMENTAL, later[-1].state)
    assert [r["department"] for r in same_time] == ["Ops"]


async def test_memberships_incremental(
    connector: LdapConnector, directory: Directory, people: dict[str, Any], sandbox: str
) -> None:
    """A changed group's complete member list comes again; other groups' do not."""
    directory.add(
        f"dn: cn=g1,{sandbox}\nobjectClass: groupOfNames\ncn: g1\nmember: uid=p0,{sandbox}\n\n"
        f"dn: cn=g2,{sandbox}\nobjectClass: groupOfNames\ncn: g2\nmember: uid=p1,{sandbox}\n"
    )
    config = {**people, "group_base_dn": sandbox}
    edges, batches = await read_all(connector, config, "memberships")
    assert {e["member_dn"] for e in edges} == {f"uid=p0,{sandbox}", f"uid=p1,{sandbox}"}
    directory.modify(
        f"dn: cn=g1,{sandbox}\nchangetype: modify\nadd: member\nmember: uid=p2,{sandbox}\n"
    )
    changed, _ = await read_all(connector, config, "memberships", INCREMENTAL, batches[-1].state)
    assert sorted(e["member_dn"] for e in changed) == [f"uid=p0,{sandbox}", f"uid=p2,{sandbox}"]
    kinds = {(e["group_dn"], e["member_kind"]) for e in changed}
    assert kinds == {(f"cn=g1,{sandbox}", "identity")}


@pytest.mark.parametrize("sort", ["auto", "never"])
async def test_resume_from_a_page_checkpoint(
    connector: LdapConnector, people: dict[str, Any], sort: str
) -> None:
    """A run stopped after its first page resumes from that page's state without repeats."""
    config = {**people, "page_size": 2, "server_side_sort": sort}
    reader = connector.read(config, "users", SyncMode.full_refresh, None)
    first = await anext(reader)
    await reader.aclose()
    assert len(first.records) == 2 and first.state is not None
    assert first.state["complete"] is False
    rest, _ = await read_all(connector, config, "users", SyncMode.full_refresh, first.state)
    uids = [r["uid"] for r in first.records + rest]
    assert sorted(uids) == [f"p{i}" for i in range(5)]


async def test_resume_unsorted_active_directory(
    connector: LdapConnector, directory: Directory, ad: dict[str, Any], ad_sandbox: str
) -> None:
    """The AD tree has no sort control: the checkpoint lists what was emitted instead."""
    directory.add(
        "\n".join(ad_user(f"u{i}", ad_sandbox, f"2024010{i + 1}000000.0Z") for i in range(5))
    )
    config = {**ad, "user_base_dn": ad_sandbox, "page_size": 2}
    reader = connector.read(config, "users", SyncMode.full_refresh, None)
    first = await anext(reader)
    await reader.aclose()
    assert first.state is not None and first.state["cursor"] is None
    assert len(first.state["seen"]) == 2
    rest, _ = await read_all(connector, config, "users", SyncMode.full_refresh, first.state)
    names = sorted(r["sAMAccountName"] for r in first.records + rest)
    assert names == [f"u{i}" for i in range(5)]


async def test_disconnect_mid_run(
    connector: LdapConnector, directory: Directory, people: dict[str, Any]
) -> None:
    """The server going away mid-read is a transient `unreachable`; the checkpoint resumes."""
    config = {**people, "page_size": 2}
    reader = connector.read(config, "users", SyncMode.full_refresh, None)
    first = await anext(reader)
    directory.restart()
    with pytest.raises(ConnectorError) as caught:
        async for _ in reader:
            pass
    assert caught.value.failure is CheckFailure.unreachable
    assert caught.value.transient
    rest, _ = await read_all(connector, config, "users", SyncMode.full_refresh, first.state)
    assert sorted(r["uid"] for r in first.records + rest) == [f"p{i}" for i in range(5)]
    assert by(rest, "uid").keys().isdisjoint(by(first.records, "uid").keys())
