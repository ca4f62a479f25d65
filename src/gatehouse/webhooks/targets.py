"""Endpoints as the worker sends to them: parsed URL, fixed headers and keyed HMACs.

Claims read each endpoint afresh (a change or a disable takes effect at the next claim); only
the opened secrets are kept between claims, keyed by their sealed form, so a rotation or the end
of a grace period opens them again.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.kit.masking import MASK
from gatehouse.secrets.keyring import KeyRing
from gatehouse.webhooks import service, signing
from gatehouse.webhooks.models import WebhookEndpoint
from gatehouse.webhooks.sender import USER_AGENT

SecretsKey = tuple[str, str, str | None, bool]
Headers = dict[str, str]
KEPT = 10_000  # opened secrets kept at most (all are dropped past it, and opened again)


@dataclass(slots=True)
class Target:
    """One endpoint, ready to sign and send to."""

    endpoint: WebhookEndpoint
    url: httpx.URL
    keys: list[hmac.HMAC]
    headers: dict[str, str]  # sent with every message, before the signature headers
    shown: dict[str, str]  # the same as recorded with attempts (custom values masked)

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> tuple[Headers, Headers]:
        """The request headers for one message, and the same as recorded (signatures masked)."""
        signature = signing.signed(self.keys, msg_id, timestamp, body)
        shown = {
            **self.shown,
            "webhook-id": msg_id,
            "webhook-timestamp": signature["webhook-timestamp"],
            "webhook-signature": " ".join(["v1," + MASK] * len(self.keys)),
        }
        return {**self.headers, **signature}, shown


class Targets:
    """Builds targets for claimed deliveries, keeping opened secrets between claims."""

    def __init__(self, ring: Callable[[], KeyRing]) -> None:
        self.ring = ring
        self.opened: dict[str, tuple[SecretsKey, list[hmac.HMAC]]] = {}
        # Custom headers opened, by endpoint, with the sealed value they were opened from.
        self.custom: dict[str, tuple[str | None, Headers]] = {}

    async def load(
        self, session: AsyncSession, ids: Iterable[str], now: datetime
    ) -> dict[str, Target]:
        """The endpoints with these ids (a deleted one is missing), read now."""
        query = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(set(ids)))
            .execution_options(**{ALL_TENANTS: True})
        )
        found: dict[str, Target] = {}
        for row in (await session.execute(query)).scalars():
            keys = await self._keys(session, row, now)
            custom = await self._headers(session, row)
            session.expunge(row)
            common = {"content-type": "application/json", "user-agent": USER_AGENT}
            fixed, shown = {**custom, **common}, {**service.masked(custom), **common}
            found[row.id] = Target(row, httpx.URL(row.url), keys, fixed, shown)
        return found

    async def _keys(
        self, session: AsyncSession, row: WebhookEndpoint, now: datetime
    ) -> list[hmac.HMAC]:
        until = row.previous_secret_until
        grace = bool(row.previous_secret_sealed) and until is not None and until > now
        key: SecretsKey = (row.tenant_id, row.secret_sealed, row.previous_secret_sealed, grace)
        cached = self.opened.get(row.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        secrets = await service.signing_secrets(session, self.ring(), row, now)
        keys = [signing.keyed(s) for s in secrets]
        if len(self.opened) >= KEPT:
            self.opened.clear()
        self.opened[row.id] = (key, keys)
        return keys

    async def _headers(self, session: AsyncSession, row: WebhookEndpoint) -> Headers:
        """The endpoint's custom headers, opened once per sealed value."""
        cached = self.custom.get(row.id)
        if cached is not None and cached[0] == row.headers_sealed:
            return cached[1]
        opened = await service.headers_of(session, self.ring(), row)
        if len(self.custom) >= KEPT:
            self.custom.clear()
        self.custom[row.id] = (row.headers_sealed, opened)
        return opened
