"""`gatehouse worker` delivers webhooks when the server's process does not."""

import asyncio
import signal
import subprocess

from gatehouse.config import Settings
from tests.conftest import BOTH, started, worker_process
from tests.webhooks.conftest import Receiver, add_user, endpoint, loopback, tenant_auth

pytestmark = BOTH


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    return worker_process(
        settings, GATEHOUSE_OUTBOUND_ALLOW="127.0.0.0/8", GATEHOUSE_WEBHOOKS_POLL_SECONDS="0.05"
    )


async def test_a_worker_process_delivers_what_the_server_queued(
    settings: Settings, receiver: Receiver
) -> None:
    """With GATEHOUSE_WEBHOOKS_WORKER off in the server, a separate `gatehouse worker` sends
    the event, signed; SIGTERM stops it cleanly."""
    async with started(loopback(settings, webhooks_worker=False)) as h:
        auth = await tenant_auth(h)
        await endpoint(h, auth, receiver, event_types=["identity.*"])
        proc = _worker(settings)
        try:
            created = (await add_user(h, auth, "alice")).json()
            for _ in range(600):
                if receiver.verified:
                    break
                await asyncio.sleep(0.05)
            assert receiver.rejected == 0
            assert [e["type"] for e in receiver.verified] == ["identity.created"]
            assert receiver.verified[0]["data"]["id"] == created["id"]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
