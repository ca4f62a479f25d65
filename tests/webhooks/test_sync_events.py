"""End to end: a real sync run reaches an endpoint subscribed to `sync.*` as signed messages."""

from __future__ import annotations

from typing import Any

from tests.conftest import BOTH, Harness
from tests.events.outbox import validate
from tests.opal.conftest import eventually
from tests.sync.source import sqlite_people
from tests.sync.test_events import connection, sync
from tests.webhooks.conftest import Receiver, add_user, endpoint, tenant_auth


@BOTH
async def test_a_sync_run_is_delivered_signed(harness: Harness, receiver: Receiver) -> None:
    """`sync.started` and `sync.completed` arrive verified by standardwebhooks, with the
    run's counts; the identities the run created are not sent to a `sync.*` endpoint."""
    auth = await tenant_auth(harness)
    await endpoint(harness, auth, receiver, event_types=["sync.*"])
    admin = harness.auth(await harness.token("acme", "connections:write"))
    sqlite_people(harness.svc.settings.home, 3)
    cid = await connection(harness, admin)
    run_id = await sync(harness, cid, admin, "full_refresh")
    await add_user(harness, auth)  # an identity.created the endpoint does not take

    async def both() -> list[dict[str, Any]]:
        types = {m["type"] for m in receiver.verified}
        return receiver.verified if {"sync.started", "sync.completed"} <= types else []

    await eventually(both)
    (message,) = [m for m in receiver.verified if m["type"] == "sync.completed"]
    data = validate("sync.completed", message["data"])
    assert (data["run_id"], data["connection_id"], data["created"]) == (run_id, cid, 3)
    assert message["subject"] == {"type": "sync_run", "id": run_id}
    assert {m["type"] for m in receiver.verified} == {"sync.started", "sync.completed"}
    assert receiver.rejected == 0
