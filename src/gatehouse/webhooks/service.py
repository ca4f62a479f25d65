"""Endpoint operations: create, change, delete, rotate the secret; the rules on URLs and headers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.repository import TenantRepository
from gatehouse.kit.destinations import must_resend
from gatehouse.kit.ids import new_id
from gatehouse.kit.masking import MASK
from gatehouse.kit.outbound import literal, permitted
from gatehouse.kit.problems import Problem
from gatehouse.secrets.keyring import KeyRing
from gatehouse.secrets.service import hold_active_key, open_value
from gatehouse.webhooks import catalog
from gatehouse.webhooks.models import WebhookEndpoint, secret_context
from gatehouse.webhooks.schemas import EndpointFields, EndpointIn, EndpointPatch
from gatehouse.webhooks.signing import SIGNATURE_HEADERS, new_secret

RESERVED_HEADERS = SIGNATURE_HEADERS | {
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "user-agent",
}


class EndpointRepository(TenantRepository[WebhookEndpoint]):
    """One tenant's webhook endpoints."""

    model = WebhookEndpoint


def checked_url(url: str, settings: Settings) -> str:
    """The URL if Gatehouse may send to it, or 422 saying why not."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Problem(422, f"The URL is not valid: {exc}.") from None
    allowed = ("https",) if settings.webhooks_require_https else ("http", "https")
    if parsed.scheme not in allowed or not parsed.host:
        raise Problem(422, f"The URL must be absolute with scheme {' or '.join(allowed)}.")
    if parsed.userinfo:
        raise Problem(422, "Put credentials in `headers`, not in the URL (it is shown).")
    address = literal(parsed.host)  # numeric hosts read as the guard reads them at send
    if address is None:
        return str(parsed)  # names are checked at every send, where they resolve
    if not permitted(address, settings.outbound_allow):
        raise Problem(
            422,
            f"{parsed.host} is a private, loopback or link-local address; Gatehouse "
            "sends only to public addresses unless GATEHOUSE_OUTBOUND_ALLOW names it.",
        )
    return str(parsed)


def masked(headers: dict[str, str]) -> dict[str, str]:
    """Custom headers as shown and recorded: the names, never a value (any may be a secret:
    `X-Team` can carry a password as well as `Authorization` can)."""
    return dict.fromkeys(headers, MASK)


def checked_headers(headers: dict[str, str]) -> dict[str, str]:
    """Custom headers, or 422 when one is reserved or malformed."""
    for name, value in headers.items():
        if name.lower() in RESERVED_HEADERS or name.lower().startswith("webhook-"):
            raise Problem(422, f"The header {name!r} is set by Gatehouse and cannot be overridden.")
        if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
            raise Problem(422, f"The header {name!r} is malformed.")
        if len(value) > 2000:
            raise Problem(422, f"The header {name!r} is longer than 2000 characters.")
    return dict(headers)


async def _apply(
    session: AsyncSession,
    ring: KeyRing,
    row: WebhookEndpoint,
    body: EndpointFields,
    settings: Settings,
) -> None:
    fields = body.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in fields:
        url = checked_url(fields.pop("url"), settings)
        kept = ["headers"] if row.headers_sealed and "headers" not in fields else []
        errors = must_resend(["url"] if url != row.url else [], kept, "body.headers", "{}")
        if errors:
            raise Problem(422, errors[0]["message"] + ".", errors=errors)
        row.url = url
    if "event_types" in fields:
        row.event_types = catalog.validated(fields.pop("event_types"))
    if "headers" in fields:
        headers = checked_headers(fields.pop("headers"))
        await hold_active_key(session, ring)
        ctx = secret_context(row.tenant_id, row.id, "headers")
        row.headers_sealed = ring.encrypt(orjson.dumps(headers).decode(), ctx) if headers else None
    if fields.get("enabled"):
        row.disabled_reason = None
    for name, value in fields.items():
        setattr(row, name, value)
    if "rate_limit" in body.model_fields_set and body.rate_limit is None:
        row.rate_limit = None


async def headers_of(session: AsyncSession, ring: KeyRing, row: WebhookEndpoint) -> dict[str, str]:
    """An endpoint's custom headers, opened (they are stored sealed: values may be secrets)."""
    if not row.headers_sealed:
        return {}
    ctx = secret_context(row.tenant_id, row.id, "headers")
    opened: dict[str, str] = orjson.loads(await open_value(session, ring, row.headers_sealed, ctx))
    return opened


async def shown(session: AsyncSession, ring: KeyRing, row: WebhookEndpoint) -> dict[str, Any]:
    """What audit entries say about an endpoint (of its custom headers, the names only)."""
    return {
        "url": row.url,
        "event_types": row.event_types,
        "enabled": row.enabled,
        "retry_policy": row.retry_policy,
        "headers": sorted(await headers_of(session, ring, row)),
    }


async def create(
    session: AsyncSession, ring: KeyRing, settings: Settings, actor: Actor, body: EndpointIn
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (the only time the secret is in plain text)."""
    row = WebhookEndpoint(
        id=new_id(), tenant_id=actor.tenant_id, url="", event_types=[], created_by=actor.actor[:100]
    )
    await _apply(session, ring, row, body, settings)
    secret = new_secret()
    await hold_active_key(session, ring)
    ctx = secret_context(actor.tenant_id, row.id, "current")
    row.secret_sealed = ring.encrypt(secret, ctx)
    EndpointRepository(session, actor.tenant_id).add(row)
    await session.flush()
    after = await shown(session, ring, row)
    await audit.record(session, actor, "webhook.create", "webhook_endpoint", row.id, after=after)
    return row, secret


async def find(session: AsyncSession, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    """An endpoint of the tenant, or 404."""
    row = await EndpointRepository(session, tenant_id).get(endpoint_id)
    if row is None:
        raise Problem(404, f"No webhook endpoint {endpoint_id!r} in this tenant.")
    return row


async def listing(
    session: AsyncSession, tenant_id: str, cursor: str | int | None, limit: int
) -> Sequence[WebhookEndpoint]:
    """A page of the tenant's endpoints, oldest first."""
    repo = EndpointRepository(session, tenant_id)
    return await repo.page(repo.select(), cursor, limit)


async def change(
    session: AsyncSession,
    ring: KeyRing,
    settings: Settings,
    actor: Actor,
    endpoint_id: str,
    body: EndpointPatch,
) -> WebhookEndpoint:
    """Apply a PATCH to an endpoint."""
    row = await find(session, actor.tenant_id, endpoint_id)
    before = await shown(session, ring, row)
    await _apply(session, ring, row, body, settings)
    row.updated_at = datetime.now(UTC)
    await session.flush()
    after = await shown(session, ring, row)
    action = "webhook.update"
    await audit.record(
        session, actor, action, "webhook_endpoint", row.id, before=before, after=after
    )
    return row


async def remove(session: AsyncSession, ring: KeyRing, actor: Actor, endpoint_id: str) -> None:
    """Delete an endpoint (its pending deliveries fail: nothing sends to it any more)."""
    row = await find(session, actor.tenant_id, endpoint_id)
    before = await shown(session, ring, row)
    await session.delete(row)
    await audit.record(session, actor, "webhook.delete", "webhook_endpoint", row.id, before=before)


async def rotate(
    session: AsyncSession, ring: KeyRing, actor: Actor, endpoint_id: str, grace: timedelta
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing alongside it for `grace`."""
    row = await find(session, actor.tenant_id, endpoint_id)
    tenant = actor.tenant_id
    old = await open_value(
        session, ring, row.secret_sealed, secret_context(tenant, row.id, "current")
    )
    secret = new_secret()
    await hold_active_key(session, ring)
    row.secret_sealed = ring.encrypt(secret, secret_context(tenant, row.id, "current"))
    row.previous_secret_sealed = ring.encrypt(old, secret_context(tenant, row.id, "previous"))
    row.previous_secret_until = datetime.now(UTC) + grace
    await session.flush()
    after = {"previous_secret_until": row.previous_secret_until.isoformat()}
    await audit.record(
        session, actor, "webhook.rotate_secret", "webhook_endpoint", row.id, after=after
    )
    return row, secret


async def signing_secrets(
    session: AsyncSession, ring: KeyRing, row: WebhookEndpoint, now: datetime
) -> list[str]:
    """The secrets that sign the endpoint's messages now: the current one, and the previous
    one while its grace period lasts."""
    tenant = row.tenant_id
    found = [
        await open_value(
            session, ring, row.secret_sealed, secret_context(tenant, row.id, "current")
        )
    ]
    until = row.previous_secret_until
    if row.previous_secret_sealed and until is not None and until > now:
        ctx = secret_context(tenant, row.id, "previous")
        found.append(await open_value(session, ring, row.previous_secret_sealed, ctx))
    return found
