"""Custom headers as credentials: never sent to a URL they were not given for, never shown or
recorded in the clear; URLs refused when saved exactly as the guard would refuse them."""

from typing import Any

from sqlalchemy import text

from gatehouse.config import Settings
from tests.conftest import BOTH, Harness, started
from tests.opal.conftest import eventually
from tests.webhooks.conftest import Receiver, add_user, endpoint, tenant_auth

BASE = "/v1/integration/webhooks"
SECRET = "Bearer hush-hush-42"


@BOTH
async def test_moving_the_url_does_not_take_the_stored_headers(
    harness: Harness, receiver: Receiver, elsewhere: Receiver
) -> None:
    """A `webhooks:write` token that PATCHes only the URL to its own host is refused (the
    stored Authorization would go there); sent again or cleared, the move goes through."""
    auth = await tenant_auth(harness)
    made = await endpoint(harness, auth, receiver, headers={"Authorization": SECRET})
    path = f"{BASE}/{made['id']}"
    writer = harness.auth(await harness.token("acme", "webhooks:write"))
    moved = await harness.client.patch(path, json={"url": elsewhere.url}, headers=writer)
    assert moved.status_code == 422, moved.text
    assert "headers must be sent again" in moved.json()["detail"]
    assert moved.json()["errors"][0]["type"] == "secret_required"
    kept = await harness.client.get(path, headers=auth)
    assert kept.json()["url"] == receiver.url
    await add_user(harness, auth, "alice")

    async def sent() -> dict[str, str] | None:
        return receiver.headers[-1] if receiver.headers else None

    assert (await eventually(sent))["authorization"] == SECRET
    # The same URL again is no move; a move with the headers sent again is.
    same = await harness.client.patch(path, json={"url": receiver.url}, headers=writer)
    assert same.status_code == 200, same.text
    fresh = {"Authorization": "Bearer for-elsewhere"}
    again = await harness.client.patch(
        path, json={"url": elsewhere.url, "headers": fresh}, headers=writer
    )
    assert again.status_code == 200, again.text
    elsewhere.secrets.append(made["secret"])
    await add_user(harness, auth, "bob")

    async def arrived() -> dict[str, str] | None:
        return elsewhere.headers[-1] if elsewhere.headers else None

    assert (await eventually(arrived))["authorization"] == "Bearer for-elsewhere"
    assert all(h.get("authorization") != SECRET for h in elsewhere.headers)
    cleared = await harness.client.patch(
        path, json={"url": receiver.url, "headers": {}}, headers=writer
    )
    assert cleared.status_code == 200 and cleared.json()["headers"] == {}


@BOTH
async def test_every_header_value_is_masked_when_shown_and_recorded(
    harness: Harness, receiver: Receiver
) -> None:
    """A credential under a harmless name (`X-Team`) is masked in every answer and in the
    recorded attempts, which keep the header names only."""
    auth = await tenant_auth(harness)
    headers = {"X-Team": "team-crimson-7", "X-Tenant-Key": "cobalt-9"}
    made = await endpoint(harness, auth, receiver, headers=headers)
    path = f"{BASE}/{made['id']}"
    answers = [
        made,
        (await harness.client.get(path, headers=auth)).json(),
        (await harness.client.get(BASE, headers=auth)).json()["items"][0],
        (await harness.client.patch(path, json={"enabled": True}, headers=auth)).json(),
    ]
    for shown in answers:
        assert shown["headers"] == {"X-Team": "***", "X-Tenant-Key": "***"}
    await add_user(harness, auth)

    async def recorded() -> list[dict[str, Any]]:
        r = await harness.client.get(f"{path}/deliveries", headers=auth)
        return list(r.json()["items"])

    attempt = (await eventually(recorded))[0]
    assert receiver.headers[0]["x-team"] == "team-crimson-7"  # sent as set
    assert attempt["request_headers"]["X-Team"] == "***"
    assert attempt["request_headers"]["X-Tenant-Key"] == "***"
    assert attempt["request_headers"]["content-type"] == "application/json"
    async with harness.svc.db.transaction(write=False) as s:
        stored = (await s.execute(text("SELECT request_headers FROM webhook_attempts"))).all()
    assert stored and not any(v in str(stored) for v in headers.values())


async def test_numeric_spellings_of_private_hosts_are_refused_when_saved(
    settings: Settings,
) -> None:
    """`2130706433`, `127.1`, `0` and IPv6 forms carrying 127.0.0.1 are the addresses the
    guard refuses at send, so they are refused when the URL is saved (create and PATCH)."""
    async with started(settings) as h:
        auth = await tenant_auth(h)
        hosts = [
            "2130706433",
            "127.1",
            "0",
            "0x7f.1",
            "017700000001",
            "[::127.0.0.1]",
            "[::ffff:0:127.0.0.1]",
            "[64:ff9b::7f00:1]",
            "[2002:7f00:1::]",
            "[fec0::1]",
        ]
        for host in hosts:
            r = await h.client.post(BASE, json={"url": f"http://{host}:8080/x"}, headers=auth)
            assert r.status_code == 422, (host, r.text)
            assert "GATEHOUSE_OUTBOUND_ALLOW" in r.json()["detail"]
        made = await h.client.post(BASE, json={"url": "https://example.com/x"}, headers=auth)
        assert made.status_code == 201, made.text
        path = f"{BASE}/{made.json()['id']}"
        moved = await h.client.patch(path, json={"url": "http://127.1/x"}, headers=auth)
        assert moved.status_code == 422, moved.text
