"""Delivery: committed changes reach the receiver signed; failures retry on the schedule."""

import asyncio
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from standardwebhooks import Webhook

from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.events.models import Event
from gatehouse.webhooks.models import WebhookDelivery, WebhookEndpoint
from gatehouse.webhooks.worker import WebhookWorker
from tests.conftest import BOTH, Harness
from tests.opal.conftest import eventually
from tests.webhooks.conftest import (
    Clock,
    Receiver,
    add_user,
    answer,
    endpoint,
    hang,
    hang_up,
    tenant_auth,
)

BASE = "/v1/integration/webhooks"


async def attempts(h: Harness, auth: dict[str, str], endpoint_id: str) -> dict[str, Any]:
    """The endpoint's deliveries page."""
    r = await h.client.get(f"{BASE}/{endpoint_id}/deliveries", headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


@BOTH
async def test_scim_change_is_delivered_signed(harness: Harness, receiver: Receiver) -> None:
    """A SCIM user creation reaches the receiver as `identity.created`, verified by
    standardwebhooks; the attempt is listed with its signature masked."""
    auth = await tenant_auth(harness)
    made = await endpoint(harness, auth, receiver, event_types=["identity.*"])
    user = (await add_user(harness, auth)).json()

    async def got() -> list[dict[str, Any]]:
        return [m for m in receiver.verified if m["type"] == "identity.created"]

    message = (await eventually(got))[0]
    assert message["data"]["id"] == user["id"]
    assert message["subject"] == {"type": "identity", "id": user["id"]}
    assert receiver.rejected == 0
    assert not [m for m in receiver.verified if not m["type"].startswith("identity.")]

    async def recorded() -> dict[str, Any] | None:
        page = await attempts(harness, auth, made["id"])
        return page if page["items"] else None

    page = await eventually(recorded)
    first = page["items"][0]
    assert first["succeeded"] and first["response_status"] == 200
    assert first["request_headers"]["webhook-signature"] == "v1,***"
    assert made["secret"] not in str(page)
    assert page["success_rate"] == 1.0


async def test_retries_follow_the_schedule(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """500, 500, then 200: attempts come immediately, after ~5 s, after ~5 min."""
    h, clock = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver)
    receiver.replies = [answer(500, b"boom"), answer(500)]
    await add_user(h, auth)
    worker = h.svc.webhooks
    assert await worker.tick() == 0
    assert len(receiver.headers) == 1
    clock.advance(3.9)  # under 5 s less 20 %
    await worker.tick()
    assert len(receiver.headers) == 1
    clock.advance(2.2)  # past 5 s plus 20 %
    await worker.tick()
    assert len(receiver.headers) == 2
    clock.advance(200)
    await worker.tick()
    assert len(receiver.headers) == 2
    clock.advance(200)
    assert await worker.tick() == 1
    page = await attempts(h, auth, made["id"])
    assert [a["response_status"] for a in page["items"]] == [500, 500, 200]
    assert [a["attempt"] for a in page["items"]] == [1, 2, 3]
    assert page["items"][0]["response_body"] == "boom"
    assert page["success_rate"] == round(1 / 3, 4)
    ids = {headers["webhook-id"] for headers in receiver.headers}
    assert len(ids) == 1  # one message id across its attempts
    assert receiver.rejected == 0


async def failed_once(
    h: Harness, receiver: Receiver, status: int
) -> tuple[dict[str, str], dict[str, Any]]:
    """A `no_retry` endpoint whose one message was answered `status`: (auth, endpoint)."""
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver, retry_policy="no_retry")
    receiver.replies = [answer(status)]
    await add_user(h, auth)
    await h.svc.webhooks.tick()
    return auth, made


async def test_no_retry_and_max_retries(manual: tuple[Harness, Clock], receiver: Receiver) -> None:
    """`no_retry` gives up after one attempt."""
    h, clock = manual
    auth, made = await failed_once(h, receiver, 503)
    clock.advance(100_000)
    await h.svc.webhooks.tick()
    page = await attempts(h, auth, made["id"])
    assert [a["response_status"] for a in page["items"]] == [503]


async def test_timeouts_hang_ups_and_redirects_fail(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """A receiver hanging past the timeout, closing the connection or redirecting to a
    private address is a failed attempt; the redirect is never followed."""
    h, clock = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver, timeout_seconds=0.3)
    receiver.replies = [
        hang(1.5),
        hang_up,
        answer(302, Location="http://10.0.0.1/steal"),
        answer(200, b"x" * (3 * 1024 * 1024)),
    ]
    await add_user(h, auth)
    worker = h.svc.webhooks
    for _ in range(4):
        await worker.tick()
        clock.advance(40_000)
    page = await attempts(h, auth, made["id"])
    items = page["items"]
    assert len(items) == 4, items
    assert "no answer within 0.3 s" in items[0]["error"]
    assert items[1]["response_status"] is None and items[1]["error"]
    assert items[2]["response_status"] == 302 and "not followed" in items[2]["error"]
    assert items[3]["succeeded"] and len(items[3]["response_body"]) == 2048
    assert len(receiver.headers) == 4


async def test_retry_after_is_honoured(manual: tuple[Harness, Clock], receiver: Receiver) -> None:
    """429 with Retry-After: 120 waits 120 s, not the 5 s of the schedule."""
    h, clock = manual
    auth = await tenant_auth(h)
    await endpoint(h, auth, receiver)
    receiver.replies = [answer(429, retry_after="120")]
    await add_user(h, auth)
    worker = h.svc.webhooks
    await worker.tick()
    clock.advance(60)
    await worker.tick()
    assert len(receiver.headers) == 1
    clock.advance(61)
    assert await worker.tick() == 1


@BOTH
async def test_gone_disables_the_endpoint(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """410 disables the endpoint with an `endpoint.disabled` event; nothing more is sent."""
    h, _ = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver, event_types=["identity.created"])
    other = await endpoint(h, auth, receiver, event_types=["endpoint.disabled"])
    receiver.replies = [answer(410)]
    await add_user(h, auth, "alice")
    await h.svc.webhooks.tick()
    shown = (await h.client.get(f"{BASE}/{made['id']}", headers=auth)).json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    await h.svc.webhooks.tick()  # dispatches endpoint.disabled to the other endpoint
    disabled = [m for m in receiver.verified if m["type"] == "endpoint.disabled"]
    assert disabled[0]["data"]["endpoint_id"] == made["id"]
    await add_user(h, auth, "bob")
    await h.svc.webhooks.tick()
    assert len((await attempts(h, auth, made["id"]))["items"]) == 1
    assert other["id"] != made["id"]


async def test_rotation_signs_with_both_secrets(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """After rotation both secrets sign for the grace period; the new one is shown once."""
    h, _ = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver)
    old = made["secret"]
    r = await h.client.post(f"{BASE}/{made['id']}/rotate-secret", headers=auth)
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and new.startswith("whsec_")
    shown = await h.client.get(f"{BASE}/{made['id']}", headers=auth)
    assert new not in shown.text and shown.json()["previous_secret_until"]
    await add_user(h, auth)
    await h.svc.webhooks.tick()
    headers = receiver.headers[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    body = receiver.verified[-1]
    assert body["type"] == "identity.created"
    assert receiver.rejected == 0
    # Each secret alone verifies the delivery, as a receiver holding either one would.
    raw = await raw_body(h)
    for secret in (old, new):
        Webhook(secret).verify(raw, headers)


async def raw_body(h: Harness) -> bytes:
    """The body of the newest delivery, as sent."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = (
            select(WebhookDelivery)
            .order_by(WebhookDelivery.id.desc())
            .limit(1)
            .execution_options(**{ALL_TENANTS: True})
        )
        row = (await s.execute(stmt)).scalar_one()
    return orjson.dumps(row.body)


async def test_test_resend_and_recover(manual: tuple[Harness, Clock], receiver: Receiver) -> None:
    """`test` sends `webhook.test` at once; resend and recover queue deliveries again."""
    h, clock = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver, retry_policy="no_retry")
    r = await h.client.post(f"{BASE}/{made['id']}/test", headers=auth)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["success"] and result["status_code"] == 200
    assert receiver.verified[-1]["type"] == "webhook.test"
    receiver.replies = [answer(500)]
    await add_user(h, auth)
    await h.svc.webhooks.tick()
    failed = [a for a in (await attempts(h, auth, made["id"]))["items"] if not a["succeeded"]]
    delivery = failed[0]["delivery_id"]
    resent = await h.client.post(f"{BASE}/{made['id']}/deliveries/{delivery}/resend", headers=auth)
    assert resent.status_code == 200 and resent.json()["status"] == "pending"
    again = await h.client.post(f"{BASE}/{made['id']}/deliveries/{delivery}/resend", headers=auth)
    assert again.status_code == 409
    assert await h.svc.webhooks.tick() == 1
    receiver.replies = [answer(500)]
    await add_user(h, auth, "bob")
    await h.svc.webhooks.tick()
    since = (clock() - timedelta(hours=1)).isoformat()
    rec = await h.client.post(f"{BASE}/{made['id']}/recover", json={"since": since}, headers=auth)
    assert rec.status_code == 200 and rec.json()["queued"] == 1
    assert await h.svc.webhooks.tick() == 1
    assert receiver.rejected == 0


async def test_oversized_payload_is_not_sent(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """A message over the size limit fails without being sent."""
    h, _ = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver)
    h.svc.settings.webhooks_max_payload_bytes = 300  # an identity.created body is larger
    await add_user(h, auth)
    await h.svc.webhooks.tick()
    items = (await attempts(h, auth, made["id"]))["items"]
    assert "over 300" in items[0]["error"] and receiver.headers == []


@BOTH
async def test_two_workers_never_send_one_delivery_twice(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """Two workers draining the same rows concurrently send each message once."""
    h, clock = manual
    auth = await tenant_auth(h)
    await endpoint(h, auth, receiver)
    for n in range(12):
        await add_user(h, auth, f"user{n}")
    a = h.svc.webhooks
    b = WebhookWorker(h.svc.db, h.svc.settings, lambda: h.svc.keys, clock)
    try:
        sent = await asyncio.gather(a.tick(), b.tick())
    finally:
        await b.close()
    assert sum(sent) == 12
    ids = [headers["webhook-id"] for headers in receiver.headers]
    assert len(ids) == len(set(ids)) == 12


async def test_endpoint_failing_for_days_is_disabled(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """Five days of nothing but failures disable the endpoint, with `endpoint.disabled`."""
    h, clock = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver, retry_policy="linear", max_retries=20)
    h.svc.settings.webhooks_linear_seconds = 86_400
    receiver.replies = [answer(500)] * 10
    await add_user(h, auth)
    for _ in range(5):
        await h.svc.webhooks.tick()
        shown = (await h.client.get(f"{BASE}/{made['id']}", headers=auth)).json()
        assert shown["enabled"], shown
        clock.advance(86_400 * 1.21)
    await h.svc.webhooks.tick()
    shown = (await h.client.get(f"{BASE}/{made['id']}", headers=auth)).json()
    assert shown["enabled"] is False and "failed" in shown["disabled_reason"]
    async with h.svc.db.transaction(write=False) as s:
        types = await s.execute(select(Event.type).execution_options(**{ALL_TENANTS: True}))
        assert "endpoint.disabled" in types.scalars().all()
    # Turned back on, it gets a fresh five days: one more failure does not disable it.
    r = await h.client.patch(f"{BASE}/{made['id']}", json={"enabled": True}, headers=auth)
    assert r.status_code == 200, r.text
    async with h.svc.db.transaction() as s:  # as if the PATCH came at the test clock's time
        await s.execute(
            update(WebhookEndpoint)
            .values(updated_at=clock.now)
            .execution_options(**{ALL_TENANTS: True})
        )
    await add_user(h, auth, "again")
    await h.svc.webhooks.tick()
    shown = (await h.client.get(f"{BASE}/{made['id']}", headers=auth)).json()
    assert shown["enabled"] is True and shown["disabled_reason"] is None
    assert receiver.headers[-1]["webhook-id"] != receiver.headers[0]["webhook-id"]


async def test_old_deliveries_are_purged(manual: tuple[Harness, Clock], receiver: Receiver) -> None:
    """Finished deliveries and attempts older than the retention period are deleted."""
    h, clock = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver)
    await add_user(h, auth)
    await h.svc.webhooks.tick()
    assert len((await attempts(h, auth, made["id"]))["items"]) == 1
    clock.advance(29 * 86_400)
    await h.svc.webhooks.tick()
    assert len((await attempts(h, auth, made["id"]))["items"]) == 1
    clock.advance(2 * 86_400)
    await h.svc.webhooks.tick()
    assert (await attempts(h, auth, made["id"]))["items"] == []


@BOTH
async def test_ordered_endpoint_gets_one_message_at_a_time(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """An ordered endpoint receives later messages only after earlier ones are done."""
    h, clock = manual
    auth = await tenant_auth(h)
    made = await endpoint(h, auth, receiver, ordered=True, event_types=["identity.created"])
    assert made["ordered"] is True
    receiver.replies = [answer(500)]
    for name in ("first", "second", "third"):
        await add_user(h, auth, name)
    await h.svc.webhooks.tick()
    assert len(receiver.headers) == 1  # the first failed; the others wait behind it
    clock.advance(7)
    for _ in range(3):
        await h.svc.webhooks.tick()
    names = [m["data"]["after"]["user_name"] for m in receiver.verified]
    assert names == ["first", "first", "second", "third"]


async def test_a_resend_is_a_new_series_and_the_old_attempts_stay(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """A resend counts its attempts afresh under the next series, with the same message id;
    GET .../deliveries keeps listing the attempts of the earlier series."""
    h, _ = manual
    auth, made = await failed_once(h, receiver, 500)
    (failed,) = (await attempts(h, auth, made["id"]))["items"]
    assert (failed["series"], failed["attempt"], failed["succeeded"]) == (1, 1, False)
    delivery = failed["delivery_id"]
    resend = f"{BASE}/{made['id']}/deliveries/{delivery}/resend"
    resent = (await h.client.post(resend, headers=auth)).json()
    assert (resent["series"], resent["attempts"], resent["status"]) == (2, 0, "pending")
    assert await h.svc.webhooks.tick() == 1
    assert (await h.client.post(resend, headers=auth)).json()["series"] == 3
    receiver.replies = [answer(500)]
    await h.svc.webhooks.tick()
    page = await attempts(h, auth, made["id"])
    assert [
        (a["delivery_id"], a["series"], a["attempt"], a["succeeded"]) for a in page["items"]
    ] == [
        (delivery, 1, 1, False),
        (delivery, 2, 1, True),
        (delivery, 3, 1, False),
    ]
    assert page["attempts"] == 3 and page["success_rate"] == round(1 / 3, 4)
    assert len({headers["webhook-id"] for headers in receiver.headers}) == 1


async def test_an_idle_worker_sleeps_until_the_next_retry_is_due(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """After a failed attempt the worker knows when the retry falls due, and its idle wait
    (however long it has backed off) ends then, not later; nothing waiting, no limit."""
    h, clock = manual
    auth = await tenant_auth(h)
    await endpoint(h, auth, receiver)
    worker = h.svc.webhooks
    assert await worker.tick() == 0
    assert worker.soonest is None and worker._until_due(5.0) == 5.0
    receiver.replies = [answer(500)]
    await add_user(h, auth)
    await worker.tick()
    assert len(receiver.headers) == 1
    await worker.tick()  # the retry is not due yet: the worker learns when it is
    assert worker.soonest is not None
    wait = worker._until_due(60.0)
    assert 3.9 <= wait <= 6.1  # the first retry is due after 5 s ± 20 %
    clock.advance(wait)
    await worker.tick()
    assert len(receiver.headers) == 2
