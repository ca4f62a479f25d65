"""The dispatcher never skips an event whose transaction commits late (PostgreSQL ids)."""

import pytest

from gatehouse.events.service import emit
from tests.conftest import Harness
from tests.webhooks.conftest import Clock, Receiver, add_user, endpoint, tenant_auth


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_late_commit_below_the_cursor_is_delivered(
    manual: tuple[Harness, Clock], receiver: Receiver
) -> None:
    """An event whose id was taken before a committed one, but commits after it, still goes out."""
    h, clock = manual
    auth = await tenant_auth(h)
    await endpoint(h, auth, receiver)
    worker = h.svc.webhooks
    async with h.svc.db.transaction() as held:
        payload = {"id": "late", "version": 2, "source": "test"}
        emit(held, "acme", "identity.updated", "identity", "late", payload)
        await held.flush()  # takes its id now; commits only when this block ends
        await add_user(h, auth)
        await worker.tick()
        clock.advance(1)
        await worker.tick()
        assert receiver.verified == []  # waits at the gap while the holder is open
    clock.advance(1)
    await worker.tick()
    types = [m["type"] for m in receiver.verified]
    assert {"identity.updated", "identity.created"} <= set(types)
    assert receiver.rejected == 0
