"""A database outage: 503 with Retry-After for what needs the store, decisions kept served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from gatehouse.config import Settings
from gatehouse.db import migrate
from gatehouse.db.engine import Database
from tests.conftest import Harness, started
from tests.faults.postgres import PrivatePostgres

POLICY = """package authz

default allow := false

allow if "engineering" in input.subject.groups
"""


@pytest.fixture
async def private_pg() -> AsyncIterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own, migrated."""
    server = PrivatePostgres()
    try:
        db = Database(server.url)
        await migrate.upgrade(db.engine)
        await db.dispose()
        yield server
    finally:
        server.close()


@pytest.fixture
async def outage_app(private_pg: PrivatePostgres, tmp_path: Path) -> AsyncIterator[Harness]:
    """The app on the private server."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=private_pg.url,
        worker_in_process=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    async with started(settings) as h:
        yield h


async def test_an_outage_answers_503_with_retry_after(
    outage_app: Harness, private_pg: PrivatePostgres
) -> None:
    h = outage_app
    await h.tenant("acme")
    admin = await h.token("acme", "admin:*")
    evaluator = await h.token("acme", "decisions:evaluate")
    scim = {**h.auth(admin), "Content-Type": "application/scim+json"}
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice"}
    r = await h.client.post("/scim/v2/Users", content=orjson.dumps(user), headers=scim)
    alice = r.json()["id"]
    group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "engineering",
        "members": [{"value": alice}],
    }
    r = await h.client.post("/scim/v2/Groups", content=orjson.dumps(group), headers=scim)
    assert r.status_code == 201, r.text
    r = await h.client.put(
        "/v1/policies/authz",
        content=POLICY.encode(),
        headers={**h.auth(admin), "Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    ask = {"input": {"subject": "alice"}}
    jh = {**h.auth(evaluator), "Content-Type": "application/json"}
    r = await h.client.post("/v1/data/authz/allow", content=orjson.dumps(ask), headers=jh)
    assert r.json()["result"] is True, r.text
    private_pg.stop()
    r = await h.client.post("/v1/data/authz/allow", content=orjson.dumps(ask), headers=jh)
    assert r.status_code == 200 and r.json()["result"] is True, r.text  # from memory
    r = await h.client.get("/v1/identities", headers=h.auth(admin))
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    assert r.json()["type"] == "https://gatehouse.dev/problems/store-unavailable"
    assert (await h.client.get("/ready")).status_code == 503
    private_pg.start()
    r = await h.client.get("/v1/identities", headers=h.auth(admin))
    assert r.status_code == 200, r.text
