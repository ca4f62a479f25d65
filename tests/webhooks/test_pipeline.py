"""Many messages through a narrow round: claimed in batches, each sent once, all recorded."""

from typing import Any

from sqlalchemy import func, select

from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.events.service import emit
from gatehouse.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.conftest import BOTH, Harness
from tests.webhooks.conftest import Clock, Receiver, answer, endpoint, tenant_auth

MESSAGES = 150


async def count(h: Harness, column: Any, *where: Any) -> int:
    """Rows of a table (every tenant)."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(func.count(column)).where(*where).execution_options(**{ALL_TENANTS: True})
        return int((await s.execute(stmt)).scalar_one())


@BOTH
async def test_a_narrow_round_sends_each_message_once(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """150 events, 8 in flight: one round claims again and again until all are sent, each once,
    every attempt recorded; a failure among them is retried later, not lost."""
    h, clock = manual
    h.svc.settings.webhooks_batch = 8
    auth = await tenant_auth(h)
    await endpoint(h, auth, receiver, event_types=["identity.created"])
    receiver.replies = [answer(500)]
    async with h.svc.db.transaction() as s:
        for n in range(MESSAGES):
            emit(s, "acme", "identity.created", "identity", f"id-{n}", {"id": f"id-{n}"})
    assert await h.svc.webhooks.tick() == MESSAGES - 1
    ids = [headers["webhook-id"] for headers in receiver.headers]
    assert len(ids) == len(set(ids)) == MESSAGES
    assert receiver.rejected == 0
    assert await count(h, WebhookAttempt.id) == MESSAGES
    assert await count(h, WebhookDelivery.id, WebhookDelivery.status == "delivered") == MESSAGES - 1
    clock.advance(7)
    assert await h.svc.webhooks.tick() == 1
    assert await count(h, WebhookDelivery.id, WebhookDelivery.status != "delivered") == 0
    assert await count(h, WebhookDelivery.id, WebhookDelivery.lease_owner.is_not(None)) == 0
