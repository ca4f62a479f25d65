"""LDAP sources synced by the engine into the store: people, nested groups, AD's disabled flag."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gatehouse.connectors.builtin.ldap import LdapConnector
from gatehouse.connectors.environment import Environment
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Group, Identity, Membership
from gatehouse.sync.mapping import stream_transform
from gatehouse.sync.models import SyncRun
from gatehouse.sync.plan import Job, StreamPlan
from tests.conftest import BOTH, Harness
from tests.connectors.ldap.conftest import LOOPBACK
from tests.sync.source import run_job

pytestmark = BOTH
GROUPS: dict[str, Any] = {"kind": "group", "external_id": "id", "fields": {"display_name": "cn"}}
MEMBERS: dict[str, Any] = {
    "kind": "membership",
    "fields": {"group": "group_id", "member": "member_id", "member_kind": "member_kind"},
}


def streams(people: dict[str, Any]) -> list[StreamPlan]:
    """users, groups and memberships with their mappings."""
    return [
        StreamPlan("users", "identity", stream_transform(people), incremental=True),
        StreamPlan("groups", "group", stream_transform(GROUPS), incremental=True),
        StreamPlan("memberships", "membership", stream_transform(MEMBERS), incremental=True),
    ]


async def sync(h: Harness, config: dict[str, Any], people: dict[str, Any]) -> SyncRun:
    """One full run of an LDAP connection by a worker; the finished run."""
    job = Job(
        tenant_id="acme",
        connection_id="conn-ldap",
        source="directory",
        connector=LdapConnector(Environment(LOOPBACK)),
        config=config,
        streams=streams(people),
    )
    return await run_job(h, job)


async def rows(h: Harness, *columns: Any) -> list[tuple[Any, ...]]:
    """The tenant's values of some columns, sorted."""
    async with h.svc.db.transaction(write=False) as s:
        found = await s.execute(select(*columns).execution_options(**{TENANT: "acme"}))
        return sorted(tuple(r) for r in found)


async def test_openldap_fills_the_store(harness: Harness, openldap: dict[str, Any]) -> None:
    """People, groups and nested memberships arrive; a dangling member DN is reported."""
    await harness.tenant("acme")
    people = {
        "kind": "identity",
        "external_id": "id",
        "fields": {
            "user_name": "uid",
            "email": {"from": "mail", "steps": ["email"]},
            "display_name": "cn",
        },
    }
    run = await sync(harness, openldap, people)
    assert run.status == "succeeded", run.error
    assert await rows(harness, Identity.user_name, Identity.email) == [
        ("alice", "alice@example.org"),
        ("bob", "bob@example.org"),
        ("carol", "carol@example.org"),
        ("dave", None),
    ]
    assert [g for (g,) in await rows(harness, Group.display_name)] == [
        "engineering",
        "everyone",
        "ghosts",
        "platform",
    ]
    assert run.counts["membership"]["created"] == 10
    assert [e["stream"] for e in run.error_samples] == ["memberships"]  # uid=ghost
    assert len(await rows(harness, Membership.group_id)) == 10


async def test_active_directory_fills_the_store(harness: Harness, ad: dict[str, Any]) -> None:
    """AD users keep their GUIDs as source ids and the disabled account is inactive."""
    await harness.tenant("acme")
    people = {
        "kind": "identity",
        "external_id": "id",
        "fields": {
            "user_name": "userPrincipalName",
            "display_name": "cn",
            "active": "active",
        },
    }
    run = await sync(harness, ad, people)
    assert run.status == "succeeded", run.error
    assert await rows(harness, Identity.user_name, Identity.active) == [
        ("erin@corp.example.com", True),
        ("frank@corp.example.com", False),
        ("grace@corp.example.com", True),
    ]
    assert run.counts["membership"]["created"] == 4
