"""Migration 0019: stored OPAL topics become the tenant's own; recorded webhook attempts
keep custom header names, not their values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from gatehouse.config import Settings
from gatehouse.db import migrate
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.opal.models import OpalSettingsRow
from gatehouse.webhooks.models import WebhookAttempt
from tests.conftest import BOTH

pytestmark = BOTH
OLD_DEFAULT = ["policy_data", "gatehouse:{tenant}"]
RECORDED = {
    "content-type": "application/json",
    "user-agent": "Gatehouse-Webhooks/0.1.0",
    "webhook-id": "msg_1",
    "webhook-signature": "v1,***",
    "X-Team": "team-crimson-7",
    "Authorization": "***",
}


def _settings(tenant: str, topics: list[str]) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "config": {"enabled": True, "topics": topics, "save_method": "PUT"},
        "version": 1,
        "updated_by": "test",
        "updated_at": datetime.now(UTC),
    }


async def test_topics_and_recorded_headers_are_fixed(settings: Settings) -> None:
    """Shared and foreign topics give way to the tenant's own (a named own topic stays);
    custom header values in recorded attempts are masked, Gatehouse's own headers kept."""
    db = Database(settings.effective_database_url)
    try:
        await migrate.downgrade(db.engine, "0018", settings)
        attempt = {
            "id": "at-1",
            "tenant_id": "acme",
            "endpoint_id": "ep-1",
            "delivery_id": "de-1",
            "event_type": "identity.created",
            "series": 1,
            "attempt": 1,
            "succeeded": True,
            "request_headers": RECORDED,
            "response_status": 200,
            "response_body": "",
            "latency_ms": 1.0,
            "created_at": datetime.now(UTC),
        }
        async with db.transaction() as session:
            rows = [
                _settings("acme", OLD_DEFAULT),
                _settings("globex", ["policy_data"]),
                _settings("initech", ["gatehouse:{tenant}:eu"]),
            ]
            await session.execute(insert(OpalSettingsRow.__table__), rows)
            await session.execute(insert(WebhookAttempt.__table__), [attempt])
        await migrate.upgrade(db.engine, "head", settings)
        async with db.transaction(write=False) as session:
            stmt = select(OpalSettingsRow.tenant_id, OpalSettingsRow.config)
            found = dict(
                (await session.execute(stmt.execution_options(**{ALL_TENANTS: True}))).all()
            )
            stmt2 = select(WebhookAttempt.request_headers)
            headers = (
                await session.execute(stmt2.execution_options(**{ALL_TENANTS: True}))
            ).scalar()
        assert {t: c["topics"] for t, c in found.items()} == {
            "acme": ["gatehouse:{tenant}"],
            "globex": ["gatehouse:{tenant}"],
            "initech": ["gatehouse:{tenant}:eu"],
        }
        assert found["acme"]["enabled"] is True
        assert headers == {**RECORDED, "X-Team": "***"}
    finally:
        await migrate.upgrade(db.engine, "head", settings)
        await db.dispose()
