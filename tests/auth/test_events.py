"""`token.created` and `token.revoked`: written with the change through the API, valid against
their catalog schemas, never carrying the secret; a refused or rolled-back change has none."""

from __future__ import annotations

import json
from datetime import datetime

from gatehouse.audit.context import Actor
from gatehouse.auth import service
from gatehouse.auth.schemas import TokenCreate
from gatehouse.kit.crypto import sha256_hex
from tests.conftest import BOTH, Harness
from tests.events.outbox import payloads, rolled_back

pytestmark = BOTH
BASE = "/v1/integration/tokens"


async def test_create_and_revoke_through_the_api(harness: Harness) -> None:
    """Each step is one event naming the token and who acted, with nothing secret in it."""
    await harness.tenant("acme")
    admin_secret = await harness.token("acme", "admin:*", name="admin")
    admin = harness.auth(admin_secret)
    c = harness.client
    made = await c.post(
        BASE,
        json={"name": "ci", "scopes": ["audit:read"], "expires_in_days": 7},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    token = made.json()
    assert (await c.delete(f"{BASE}/{token['id']}", headers=admin)).status_code == 204
    assert (await c.delete(f"{BASE}/{token['id']}", headers=admin)).status_code == 204
    db = harness.svc.db
    created = [p for p in await payloads(db, "acme", "token.created") if p["id"] == token["id"]]
    revoked = await payloads(db, "acme", "token.revoked")
    assert len(created) == 1 and len(revoked) == 1  # revoking twice is one change
    (one,) = created
    assert (one["name"], one["scopes"], one["rate_limit_per_minute"]) == (
        "ci",
        ["audit:read"],
        None,
    )
    when = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(one["expires_at"]) == when
    assert one["created_by"].startswith("token:")
    assert revoked[0]["id"] == token["id"] and revoked[0]["revoked_by"] == one["created_by"]
    assert revoked[0]["revoked_at"]
    said = json.dumps(created + revoked)
    for secret in (token["token"], sha256_hex(token["token"]), token["prefix"], admin_secret):
        assert secret not in said


async def test_a_refused_or_rolled_back_change_emits_nothing(harness: Harness) -> None:
    """A grant beyond the creator's scopes (403), or a transaction that fails after the token
    was written, leaves no event behind."""
    await harness.tenant("acme")
    narrow = harness.auth(await harness.token("acme", "tokens:write", name="narrow"))
    refused = await harness.client.post(
        BASE, json={"name": "wide", "scopes": ["admin:*"]}, headers=narrow
    )
    assert refused.status_code == 403, refused.text
    db = harness.svc.db
    doomed = TokenCreate(name="doomed", scopes=["audit:read"])
    await rolled_back(
        db,
        lambda s: service.create_token(
            s, Actor("acme", "test"), "acme", doomed, granted_by=None, default_days=1, tier_limit=9
        ),
    )
    names = [p["name"] for p in await payloads(db, "acme", "token.created")]
    assert names == ["narrow"]
