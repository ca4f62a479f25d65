"""Webhook routes: /v1/integration/webhooks (endpoints, event types, deliveries, actions)."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from gatehouse.audit import service as audit
from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, encode_cursor, paginate
from gatehouse.kit.problems import Problem
from gatehouse.services import Services
from gatehouse.webhooks import catalog, queue, service
from gatehouse.webhooks.models import WebhookEndpoint
from gatehouse.webhooks.schemas import (
    AttemptOut,
    AttemptPage,
    DeliveryOut,
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EventTypeOut,
    Recovered,
    RecoverIn,
    RotateIn,
    SecretRotated,
    TestResult,
)

EndpointId = Annotated[str, Path(max_length=36, description="The endpoint's id.")]
DeliveryId = Annotated[str, Path(max_length=36, description="A delivery's id.")]


def out(row: WebhookEndpoint, headers: dict[str, str]) -> EndpointOut:
    """An endpoint as shown: its custom headers by name, every value masked."""
    return EndpointOut(
        id=row.id,
        url=row.url,
        description=row.description,
        event_types=row.event_types,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        retry_policy=row.retry_policy,
        timeout_seconds=row.timeout_seconds,
        max_retries=row.max_retries,
        headers=service.masked(headers),
        rate_limit=row.rate_limit,
        ordered=row.ordered,
        previous_secret_until=row.previous_secret_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def build_router(svc: Services) -> APIRouter:
    """Routes under /v1/integration/webhooks."""
    router = APIRouter(prefix="/v1/integration/webhooks", tags=["webhooks"])
    Reader = Annotated[Principal, Depends(authenticator(svc, "webhooks:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "webhooks:write"))]
    settings = svc.settings

    @router.get("/event-types", responses=problems())
    async def event_types(who: Reader) -> list[EventTypeOut]:
        """Every event type an endpoint can subscribe to, with the JSON Schema of its data."""
        return [
            EventTypeOut(name=e.name, description=e.description, data_schema=e.schema)
            for e in catalog.CATALOG
        ]

    @router.post("", status_code=201, responses=problems(422))
    async def create(body: EndpointIn, request: Request, who: Writer) -> EndpointCreated:
        """Create an endpoint; the response shows its signing secret, this once."""
        async with svc.write(request, who, "webhook.create", "webhook_endpoint", "") as (s, a):
            row, secret = await service.create(s, svc.keys, settings, a, body)
            shown = out(row, await service.headers_of(s, svc.keys, row))
        return EndpointCreated(**shown.model_dump(), secret=secret)

    @router.get("", responses=problems(400))
    async def listing(who: Reader, cursor: Cursor = None, limit: Limit = 100) -> Page[EndpointOut]:
        """List the tenant's endpoints."""
        async with svc.read() as session:
            rows = await service.listing(session, who.tenant_id, decode_cursor(cursor), limit)
            opened = {r.id: await service.headers_of(session, svc.keys, r) for r in rows}
        return paginate(rows, limit, lambda r: out(r, opened[r.id]))

    @router.get("/{endpoint_id}", responses=problems(404))
    async def get(endpoint_id: EndpointId, who: Reader) -> EndpointOut:
        """Get an endpoint (never its secret)."""
        async with svc.read() as session:
            row = await service.find(session, who.tenant_id, endpoint_id)
            return out(row, await service.headers_of(session, svc.keys, row))

    @router.patch("/{endpoint_id}", responses=problems(404, 422))
    async def change(
        endpoint_id: EndpointId, body: EndpointPatch, request: Request, who: Writer
    ) -> EndpointOut:
        """Change an endpoint; absent fields stay as they are."""
        target = endpoint_id
        async with svc.write(request, who, "webhook.update", "webhook_endpoint", target) as (s, a):
            row = await service.change(s, svc.keys, settings, a, endpoint_id, body)
            return out(row, await service.headers_of(s, svc.keys, row))

    @router.delete("/{endpoint_id}", status_code=204, responses=problems(404))
    async def delete(endpoint_id: EndpointId, request: Request, who: Writer) -> None:
        """Delete an endpoint; nothing more is sent to it."""
        target = endpoint_id
        async with svc.write(request, who, "webhook.delete", "webhook_endpoint", target) as (s, a):
            await service.remove(s, svc.keys, a, endpoint_id)

    @router.post("/{endpoint_id}/rotate-secret", responses=problems(404, 422))
    async def rotate(
        endpoint_id: EndpointId, request: Request, who: Writer, body: RotateIn | None = None
    ) -> SecretRotated:
        """Issue a new secret (shown once); the old one keeps signing for the grace period."""
        hours = body.grace_hours if body and body.grace_hours is not None else None
        grace = timedelta(hours=settings.webhooks_secret_grace_hours if hours is None else hours)
        action = "webhook.rotate_secret"
        async with svc.write(request, who, action, "webhook_endpoint", endpoint_id) as (s, a):
            row, secret = await service.rotate(s, svc.keys, a, endpoint_id, grace)
            until = row.previous_secret_until
        assert until is not None
        return SecretRotated(secret=secret, previous_secret_until=until)

    @router.get("/{endpoint_id}/deliveries", responses=problems(400, 404))
    async def deliveries(
        endpoint_id: EndpointId, who: Reader, cursor: Cursor = None, limit: Limit = 100
    ) -> AttemptPage:
        """Every attempt to deliver to the endpoint, oldest first, with its success rate."""
        tenant = who.tenant_id
        async with svc.read() as session:
            await service.find(session, tenant, endpoint_id)
            rows = await queue.attempts_page(
                session, tenant, endpoint_id, decode_cursor(cursor), limit
            )
            total, good = await queue.success(session, tenant, endpoint_id)
        shown = rows[:limit]
        more = len(rows) > limit and bool(shown)
        return AttemptPage(
            items=[AttemptOut.model_validate(r) for r in shown],
            next_cursor=encode_cursor(shown[-1].id) if more else None,
            success_rate=round(good / total, 4) if total else None,
            attempts=total,
        )

    @router.post("/{endpoint_id}/test", responses=problems(404, 409))
    async def test(endpoint_id: EndpointId, request: Request, who: Writer) -> TestResult:
        """Send a `webhook.test` message now and report how the endpoint answered."""
        row, outcome = await svc.webhooks.send_test(svc.actor(request, who), endpoint_id)
        if outcome is None:
            raise Problem(409, "The endpoint is disabled; enable it to test it.")
        return TestResult(
            success=outcome.succeeded,
            status_code=outcome.status,
            response_time_ms=round(outcome.latency_ms, 3),
            error_message=outcome.error,
            delivery_id=row.id,
        )

    @router.post("/{endpoint_id}/deliveries/{delivery_id}/resend", responses=problems(404, 409))
    async def resend(
        endpoint_id: EndpointId, delivery_id: DeliveryId, request: Request, who: Writer
    ) -> DeliveryOut:
        """Send a finished delivery again (same message id, so receivers can de-duplicate)."""
        action = "webhook.resend"
        async with svc.write(request, who, action, "webhook_delivery", delivery_id) as (s, a):
            row = await queue.resend(s, a, endpoint_id, delivery_id, svc.webhooks.clock())
            shown = DeliveryOut.model_validate(row)
        svc.webhooks.wake.set()
        return shown

    @router.post("/{endpoint_id}/recover", responses=problems(404, 422))
    async def recover(
        endpoint_id: EndpointId, body: RecoverIn, request: Request, who: Writer
    ) -> Recovered:
        """Send again every delivery to the endpoint that failed since a time."""
        action = "webhook.recover"
        async with svc.write(request, who, action, "webhook_endpoint", endpoint_id) as (s, a):
            await service.find(s, a.tenant_id, endpoint_id)
            n = await queue.requeue(s, a.tenant_id, endpoint_id, body.since, svc.webhooks.clock())
            after = {"since": body.since.isoformat(), "queued": n}
            await audit.record(s, a, action, "webhook_endpoint", endpoint_id, after=after)
        svc.webhooks.wake.set()
        return Recovered(queued=n)

    return router
