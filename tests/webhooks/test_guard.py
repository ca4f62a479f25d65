"""Security and durability: private targets refused at send, deliveries survive a restart,
per-endpoint rate limits."""

import asyncio

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


async def test_stopping_finishes_the_sends_in_flight_and_starts_no_more(
    settings: Settings, receiver: Receiver
) -> None:
    """Asked to stop while a send waits on a slow receiver, the worker lets that send finish and
    records it, and sends nothing more: later events stay in the outbox for the next process."""
    receiver.replies = [hang(2)]
    async with started(loopback(settings)) as h:
        auth = await tenant_auth(h)
        await endpoint(h, auth, receiver)
        await add_user(h, auth, "first")
        for _ in range(200):
            if receiver.headers:
                break
            await asyncio.sleep(0.05)
        assert receiver.headers, "the send never started"
        for n in range(3):
            await add_user(h, auth, f"later{n}")
    assert len(receiver.headers) == 1
    later = loopback(settings, webhooks_worker=False)
    async with started(later) as h, h.svc.db.transaction(write=False) as s:
        statuses = (await s.execute(text("SELECT status FROM webhook_deliveries"))).all()
    assert [tuple(r) for r in statuses if r[0] != "pending"] == [("delivered",)]
