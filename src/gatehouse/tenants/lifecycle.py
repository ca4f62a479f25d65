"""What suspending or deleting a tenant does to its background work and stored credentials."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.opal.models import OpalPublish
from gatehouse.secrets import service as secrets
from gatehouse.sync.models import SyncRun
from gatehouse.webhooks.models import WebhookDelivery, WebhookEndpoint


async def halt(session: AsyncSession, tenant_id: str, status: str) -> int:
    """Cancel the tenant's queued sync runs (the worker cancels any it claims meanwhile, and
    skips its schedules, deliveries and publishes while it is not active); how many."""
    result = await session.execute(
        update(SyncRun)
        .where(SyncRun.tenant_id == tenant_id, SyncRun.status == "queued")
        .values(status="cancelled", finished_at=datetime.now(UTC), error=f"the tenant was {status}")
        .execution_options(**{TENANT: tenant_id})
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def retire(session: AsyncSession, actor: Actor, tenant_id: str) -> dict[str, Any]:
    """For a deleted tenant: disable its webhook endpoints, fail what waits to be sent, and
    destroy every credential it had sealed; audited as `tenant.credentials.destroy`."""
    scoped = {TENANT: tenant_id}
    now = datetime.now(UTC)
    disabled = await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason="the tenant was deleted")
        .execution_options(**scoped)
    )
    waiting = ("pending", "sending")
    deliveries = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.status.in_(waiting))
        .values(status="failed", last_error="the tenant was deleted", finished_at=now)
        .execution_options(**scoped)
    )
    publishes = await session.execute(
        update(OpalPublish)
        .where(OpalPublish.tenant_id == tenant_id, OpalPublish.status.in_(waiting))
        .values(status="failed", last_error="the tenant was deleted")
        .execution_options(**scoped)
    )
    destroyed = await secrets.destroy_tenant(session, tenant_id)
    after: dict[str, Any] = {
        "webhook_endpoints_disabled": _count(disabled),
        "webhook_deliveries_failed": _count(deliveries),
        "opal_publishes_failed": _count(publishes),
        "sealed_values_destroyed": destroyed,
    }
    await audit.record(
        session, actor, "tenant.credentials.destroy", "tenant", tenant_id, after=after
    )
    return after


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
