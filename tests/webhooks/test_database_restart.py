"""A database restart while deliveries are due: the worker recovers by itself."""

import asyncio

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from gatehouse.config import Settings
from tests.conftest import PG_ADMIN, started
from tests.webhooks.conftest import Receiver, add_user, answer, endpoint, loopback, tenant_auth


async def drop_connections(database: str) -> int:
    """What a PostgreSQL restart does to clients: every connection to `database` is cut."""
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return len(rows)
    finally:
        await admin.close()


async def delivered(receiver: Receiver, count: int) -> None:
    """Wait until `count` messages were verified."""
    for _ in range(400):
        if len(receiver.verified) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(receiver.verified)} of {count} messages arrived")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_worker_recovers_after_the_database_drops_its_connections(
    settings: Settings, receiver: Receiver
) -> None:
    """Connections cut while a delivery waits for its retry: the worker's next rounds fail and
    are logged, then it reconnects and delivers everything, with no restart and no duplicate."""
    async with started(loopback(settings, webhooks_retry_schedule=[0, 1])) as h:
        auth = await tenant_auth(h)
        await endpoint(h, auth, receiver)
        receiver.replies = [answer(503)]  # the first attempt fails: a retry is due in 1 s
        await add_user(h, auth, "alice")
        for _ in range(200):
            if receiver.headers:
                break
            await asyncio.sleep(0.05)
        database = make_url(settings.effective_database_url).database
        assert database is not None
        assert await drop_connections(database) >= 1
        await add_user(h, auth, "bob")  # the API reconnects (pre-ping) and the outbox fills
        await delivered(receiver, 2)
        names = sorted(e["type"] for e in receiver.verified)
        assert names == ["identity.created", "identity.created"]
        assert len({e["data"]["id"] for e in receiver.verified}) == 2
        assert receiver.rejected == 0
