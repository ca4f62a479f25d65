"""Security and durability: private targets refused at send, deliveries survive a restart,
per-endpoint rate limits."""

import asyncio
import time

from sqlalchemy import text

from gatehouse.config import Settings
from tests.conftest import started
from tests.webhooks.conftest import (
    Clock,
    Receiver,
    add_user,
    answer,
    endpoint,
    hang,
    loopback,
    tenant_auth,
)

BASE = "/v1/integration/webhooks"


async def test_private_names_refused_at_send(settings: Settings, receiver: Receiver) -> None:
    """Without an allowlist, a name that resolves to loopback is refused when sending."""
    async with started(settings.model_copy(update={"webhooks_worker": False})) as h:
        auth = await tenant_auth(h)
        url = receiver.url.replace("127.0.0.1", "localhost")
        r = await h.client.post(BASE, json={"url": url}, headers=auth)
        assert r.status_code == 201, r.text
        literal = await h.client.post(BASE, json={"url": receiver.url}, headers=auth)
        assert literal.status_code == 422
        await add_user(h, auth)
        await h.svc.webhooks.tick()
        page = (await h.client.get(f"{BASE}/{r.json()['id']}/deliveries", headers=auth)).json()
        assert "refused" in page["items"][0]["error"]
        assert receiver.headers == []


async def test_deliveries_survive_a_restart(settings: Settings, receiver: Receiver) -> None:
    """A delivery waiting for its retry is in the database: a new process sends it."""
    manual = loopback(settings, webhooks_worker=False)
    clock = Clock()
    async with started(manual) as h:
        h.svc.webhooks.clock = clock
        auth = await tenant_auth(h)
        await endpoint(h, auth, receiver)
        receiver.replies = [answer(500)]
        await add_user(h, auth)
        await h.svc.webhooks.tick()
    assert len(receiver.headers) == 1
    async with started(manual) as h:
        clock.advance(10)
        h.svc.webhooks.clock = clock
        assert await h.svc.webhooks.tick() == 1
        async with h.svc.db.transaction(write=False) as s:
            statuses = (await s.execute(text("SELECT status FROM webhook_deliveries"))).all()
    assert [tuple(r) for r in statuses] == [("delivered",)]
    assert receiver.rejected == 0


async def test_rate_limit_spreads_deliveries(settings: Settings, receiver: Receiver) -> None:
    """An endpoint limited to 2 a second gets 2 in one second; the rest wait, unattempted."""
    clock = Clock()
    async with started(loopback(settings, webhooks_worker=False)) as h:
        h.svc.webhooks.clock = clock
        auth = await tenant_auth(h)
        made = await endpoint(h, auth, receiver, rate_limit=2)
        for n in range(5):
            await add_user(h, auth, f"u{n}")
        assert await h.svc.webhooks.tick() == 2
        clock.advance(1)
        assert await h.svc.webhooks.tick() == 2
        clock.advance(1)
        assert await h.svc.webhooks.tick() == 1
        page = (await h.client.get(f"{BASE}/{made['id']}/deliveries", headers=auth)).json()
        assert [a["attempt"] for a in page["items"]] == [1] * 5


async def test_stopping_does_not_wait_for_a_hanging_receiver(
    settings: Settings, receiver: Receiver
) -> None:
    """Asked to stop while a send waits on a receiver that hangs, the worker gives the round its
    grace and then stops, instead of waiting out the endpoint's 30 s timeout; the delivery stays
    in the database, to be sent again once its lease ends (at least once)."""
    receiver.replies = [hang(25)]
    started_at = 0.0
    async with started(loopback(settings)) as h:
        auth = await tenant_auth(h)
        await endpoint(h, auth, receiver, timeout_seconds=30)
        await add_user(h, auth)
        for _ in range(200):
            if receiver.headers:
                break
            await asyncio.sleep(0.05)
        assert receiver.headers, "the send never started"
        started_at = time.monotonic()
    stopped_after = time.monotonic() - started_at
    assert stopped_after < 20, stopped_after  # the grace (5 s), not the receiver's 25 s
    later = loopback(settings, webhooks_worker=False)
    async with started(later) as h, h.svc.db.transaction(write=False) as s:
        statuses = (await s.execute(text("SELECT status FROM webhook_deliveries"))).all()
    assert [tuple(r) for r in statuses] == [("sending",)]
