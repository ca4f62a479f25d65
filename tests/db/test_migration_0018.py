"""Migration 0018 seals the custom headers of existing webhook endpoints, and its downgrade
opens them again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from gatehouse.config import Settings
from gatehouse.db import migrate
from gatehouse.db.engine import Database
from gatehouse.secrets.keyring import load_keyring
from tests.conftest import BOTH, started

pytestmark = BOTH
HEADERS = {"X-Team": "team-crimson-7", "Authorization": "Bearer hush-hush-42"}
PLAIN = ("team-crimson-7", "hush-hush-42")


async def _endpoint_at_0017(db: Database, settings: Settings) -> None:
    """An endpoint as 0017 stored it: headers in plain JSON (and a key ring to seal with)."""
    async with db.transaction() as session:
        await load_keyring(session, settings)
    row: dict[str, Any] = {
        "id": "ep-1",
        "tenant_id": "acme",
        "url": "https://hooks.example.com/in",
        "description": "",
        "event_types": "[]",
        "enabled": True,
        "retry_policy": "exponential",
        "timeout_seconds": 30.0,
        "max_retries": 7,
        "headers": '{"X-Team": "team-crimson-7", "Authorization": "Bearer hush-hush-42"}',
        "ordered": False,
        "secret_sealed": "ghx1.x.y",
        "created_by": "test",
        "created_at": datetime.now(UTC),
        "updated_at": datetime.now(UTC),
    }
    cast = "CAST(:headers AS JSONB)" if not db.is_sqlite else ":headers"
    events = "CAST(:event_types AS JSONB)" if not db.is_sqlite else ":event_types"
    names = ", ".join(row)
    values = ", ".join(f":{k}" for k in row).replace(":headers", cast)
    values = values.replace(":event_types", events)
    async with db.transaction() as session:
        await session.execute(
            text(f"INSERT INTO webhook_endpoints ({names}) VALUES ({values})"), row
        )


async def _row(db: Database) -> dict[str, Any]:
    async with db.transaction(write=False) as session:
        found = await session.execute(text("SELECT * FROM webhook_endpoints"))
        return dict(found.one()._mapping)


async def test_existing_headers_are_sealed_and_opened_again(settings: Settings) -> None:
    """Upgrading seals the plain headers (no value is left in the row); the app shows and
    uses them as before; downgrading restores the plain JSON."""
    db = Database(settings.effective_database_url)
    try:
        await migrate.downgrade(db.engine, "0017", settings)
        await _endpoint_at_0017(db, settings)
        await migrate.upgrade(db.engine, "head", settings)
        row = await _row(db)
        assert "headers" not in row and str(row["headers_sealed"]).startswith("ghx1.")
        assert not any(value in str(row) for value in PLAIN)
        async with started(settings) as h:
            await h.tenant("acme")
            auth = h.auth(await h.token("acme", "webhooks:read"))
            shown = await h.client.get("/v1/integration/webhooks/ep-1", headers=auth)
        assert shown.json()["headers"] == {"X-Team": "***", "Authorization": "***"}
        await migrate.downgrade(db.engine, "0017", settings)
        restored = (await _row(db))["headers"]
        assert (json.loads(restored) if isinstance(restored, str) else restored) == HEADERS
    finally:
        await migrate.upgrade(db.engine, "head", settings)
        await db.dispose()
