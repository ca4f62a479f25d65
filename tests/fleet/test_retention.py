"""Decision-log retention: old decisions go, recent ones and other tenants' stay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from gatehouse.config import Settings
from gatehouse.db.base import utcnow
from gatehouse.db.tenancy import TENANT
from gatehouse.fleet.models import DecisionRecord
from gatehouse.fleet.retention import purge, run
from tests.conftest import BOTH, Harness, started
from tests.fleet.conftest import audit_of, event, post_logs


async def count(h: Harness, tenant: str) -> int:
    """How many decisions the tenant's log holds."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(DecisionRecord)
        return int(await s.scalar(stmt.execution_options(**{TENANT: tenant})) or 0)


def stamp(days_ago: float) -> str:
    """An RFC 3339 timestamp `days_ago` days before now."""
    return (utcnow() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def upload(h: Harness, tenant: str, ages: list[float]) -> None:
    """Decisions made `ages` days ago, uploaded as the tenant's OPA would."""
    await h.tenant(tenant)
    token = await h.token(tenant, "fleet:report")
    events = [event(n, timestamp=stamp(age)) for n, age in enumerate(ages)]
    response = await post_logs(h, token, events)
    assert response.status_code == 200, response.text


@BOTH
async def test_purge_keeps_recent_and_deletes_old_in_batches(harness: Harness) -> None:
    """Seven decisions past 30 days go (in batches of 3), two recent ones stay, per tenant."""
    await upload(harness, "acme", [40] * 7 + [1, 2])
    await upload(harness, "globex", [45, 3])
    removed = await purge(harness.svc.db, timedelta(days=30), batch=3)
    assert removed == 8
    assert await count(harness, "acme") == 2
    assert await count(harness, "globex") == 1
    assert await purge(harness.svc.db, timedelta(days=30)) == 0
    purges = [e for e in await audit_of(harness) if e.action == "decision_log.purge"]
    assert [(e.actor, (e.after or {})["deleted"]) for e in purges] == [
        ("system:retention", 3),
        ("system:retention", 3),
        ("system:retention", 1),
    ]


@BOTH
async def test_the_server_purges_on_its_interval(settings: Settings) -> None:
    """A running Gatehouse deletes expired decisions by itself."""
    cfg = settings.model_copy(
        update={"decision_log_retention_days": 30, "decision_log_purge_seconds": 0.05}
    )
    async with started(cfg) as h:
        await upload(h, "acme", [31, 0.5])
        for _ in range(400):
            if await count(h, "acme") == 1:
                break
            await asyncio.sleep(0.05)
        assert await count(h, "acme") == 1


async def test_zero_days_keeps_everything() -> None:
    """Retention 0 returns at once and deletes nothing."""
    stop = asyncio.Event()
    await asyncio.wait_for(run(None, 0, 0.01, stop), 1)  # type: ignore[arg-type]
