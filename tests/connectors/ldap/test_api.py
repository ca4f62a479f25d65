"""An LDAP source through the /pip/connections API: tested, saved without echoing the secret,
its schema discovered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gatehouse.config import Settings
from tests.conftest import Harness, started
from tests.connectors.ldap.conftest import LOOPBACK


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Harness]:
    """An app whose connectors may reach loopback."""
    async with started(settings.model_copy(update={"outbound_allow": list(LOOPBACK)})) as h:
        yield h


async def test_ldap_connection_through_the_api(app: Harness, ad: dict[str, Any]) -> None:
    """Test, create, read back (no password), check health and discover an AD source."""
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    c = app.client
    tested = await c.post(
        "/pip/connections/test", json={"type": "ldap", "config": ad}, headers=auth
    )
    assert tested.status_code == 200 and tested.json()["ok"], tested.text
    wrong = {**ad, "password": "wrong-password"}
    refused = await c.post(
        "/pip/connections/test", json={"type": "ldap", "config": wrong}, headers=auth
    )
    assert (refused.json()["ok"], refused.json()["failure"]) == (False, "auth")
    made = await c.post(
        "/pip/connections", json={"name": "corp", "type": "ldap", "config": ad}, headers=auth
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    shown = await c.get(f"/pip/connections/{cid}", headers=auth)
    for body in (made.text, shown.text, tested.text, refused.text):
        assert ad["password"] not in body and "wrong-password" not in body
    health = (await c.get(f"/pip/connections/{cid}/health", headers=auth)).json()
    assert health["ok"], health
    schema = await c.get(f"/pip/connections/{cid}/schema", headers=auth)
    assert schema.status_code == 200, schema.text
    streams = {s["name"]: s for s in schema.json()["streams"]}
    assert set(streams) == {"users", "groups", "memberships"}
    fields = {f["name"]: f for f in streams["users"]["fields"]}
    assert fields["active"]["type"] == "boolean" and fields["mail"]["sensitivity"] == "confidential"
