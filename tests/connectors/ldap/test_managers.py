"""Managers in LDAP: the users stream resolves each manager DN to the manager's id
(`manager_id`), and a sync mapping it to `manager` fills the store's manager ids."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gatehouse.connectors.builtin.ldap import LdapConnector
from gatehouse.connectors.protocol import SchemaChanged, Selection, SyncMode
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Identity
from tests.conftest import BOTH, Harness
from tests.connectors.ldap.conftest import by, person, read_all
from tests.connectors.ldap.directory import Directory
from tests.connectors.ldap.test_sync import sync


@pytest.fixture
def org(directory: Directory, sandbox: str, openldap: dict[str, Any]) -> dict[str, Any]:
    """A boss, a lead reporting to her, a developer reporting to the lead, and a temp whose
    manager is not in the directory; a configuration reading only them."""
    directory.add(
        "\n".join(
            [
                person("boss", sandbox, mail="boss@example.org"),
                person("lead", sandbox, manager=f"uid=boss,{sandbox}"),
                person("dev", sandbox, manager=f"UID=Lead, {sandbox.upper()}"),
                person("temp", sandbox, manager=f"uid=ghost,{sandbox}"),
            ]
        )
    )
    return {**openldap, "user_base_dn": sandbox}


async def test_users_offer_the_manager_s_id(
    connector: LdapConnector, org: dict[str, Any], sandbox: str
) -> None:
    """Another spelling of the DN resolves too; an unknown DN is passed on as it is."""
    users = by((await read_all(connector, org, "users"))[0], "uid")
    assert users["boss"]["manager_id"] is None
    assert users["lead"]["manager_id"] == users["boss"]["id"]
    assert users["dev"]["manager_id"] == users["lead"]["id"]
    assert users["temp"]["manager_id"] == f"uid=ghost,{sandbox}"
    picked = Selection(fields=("uid", "manager_id"))
    narrow = [
        r
        async for b in connector.read(org, "users", SyncMode.full_refresh, None, picked)
        for r in b.records
    ]
    assert by(narrow, "uid")["dev"]["manager_id"] == users["lead"]["id"]
    plain = Selection(fields=("uid",))
    without = [
        r
        async for b in connector.read(org, "users", SyncMode.full_refresh, None, plain)
        for r in b.records
    ]
    assert all("manager_id" not in r for r in without)
    groups = Selection(fields=("cn", "manager_id"))
    with pytest.raises(SchemaChanged, match="only users"):
        await _drain(connector, org, "groups", groups)


async def _drain(
    connector: LdapConnector, config: dict[str, Any], stream: str, picked: Selection
) -> None:
    async for _ in connector.read(config, stream, SyncMode.full_refresh, None, picked):
        pass


async def test_discovered_and_absent_without_managers(
    connector: LdapConnector, openldap: dict[str, Any]
) -> None:
    """Discovery lists manager_id; a directory whose users name no manager reads as before."""
    users = next(s for s in await connector.discover(openldap) if s.name == "users")
    assert "manager_id" in {f.name for f in users.fields}
    records, _ = await read_all(connector, openldap, "users")
    assert all("manager_id" not in r for r in records)


@BOTH
async def test_a_sync_sets_managers_from_the_directory(
    harness: Harness, org: dict[str, Any]
) -> None:
    await harness.tenant("acme")
    people = {
        "kind": "identity",
        "external_id": "id",
        "fields": {"user_name": "uid", "manager": "manager_id"},
    }
    run = await sync(harness, org, people)
    assert run.status == "succeeded", run.error
    assert run.counts["identity"]["managers_set"] == 2
    assert run.counts["identity"]["managers_unresolved"] == 1
    ghost = f"uid=ghost,{org['user_base_dn']}"
    assert [e["error"] for e in run.error_samples if e["stream"] == "users"] == [
        f"manager {ghost!r} is no person of this source"
    ]
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Identity.id, Identity.user_name, Identity.manager_id)
        found = (await s.execute(stmt.execution_options(**{TENANT: "acme"}))).all()
    names = {ident: name for ident, name, _ in found}
    assert {name: names.get(boss) for _, name, boss in found} == {
        "boss": None,
        "lead": "boss",
        "dev": "lead",
        "temp": None,
    }
