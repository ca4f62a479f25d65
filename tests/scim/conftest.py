"""SCIM fixtures: a tenant with SCIM tokens, scim2-client over the harness, store counters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from scim2_client import BaseAsyncSCIMClient
from scim2_models import EnterpriseUser, Group, ResourceType, ScimProvider, User
from sqlalchemy import func, select

from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.events.models import Event
from gatehouse.identity.models import Group as GroupRecord
from gatehouse.identity.models import Identity, Membership
from tests.conftest import Harness

BASE = "http://gatehouse.test/scim/v2"
SCIM_JSON = "application/scim+json"


class HttpxSCIMClient(BaseAsyncSCIMClient):
    """scim2-client over an httpx.AsyncClient (its own engine targets httpx2)."""

    def __init__(self, client: httpx.AsyncClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url = self.client.build_request("GET", endpoint).url
        base = self.client.base_url
        return url.host == base.host and url.path.startswith(base.path)

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request."""
        return await self.client.request(method, url, **kwargs)


@dataclass
class Scim:
    """A tenant provisioned over SCIM: raw httpx, scim2-client, and store counters."""

    h: Harness
    http: httpx.AsyncClient
    client: HttpxSCIMClient
    tenant: str

    async def counts(self) -> tuple[int, int, int, int]:
        """(events, identities, groups, memberships) across every tenant."""
        everything = {ALL_TENANTS: True}
        async with self.h.svc.db.transaction(write=False) as s:
            found = []
            for model in (Event, Identity, GroupRecord, Membership):
                stmt = select(func.count()).select_from(model).execution_options(**everything)
                found.append((await s.execute(stmt)).scalar_one())
        return found[0], found[1], found[2], found[3]

    async def user(self, user_name: str, **extra: Any) -> dict[str, Any]:
        """Create a user over raw HTTP and return its document."""
        body = {"schemas": [str(User.__schema__)], "userName": user_name, **extra}
        resp = await self.http.post("/Users", json=body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    async def group(self, name: str, members: list[str] | None = None) -> dict[str, Any]:
        """Create a group over raw HTTP and return its document."""
        body: dict[str, Any] = {"schemas": [str(Group.__schema__)], "displayName": name}
        if members:
            body["members"] = [{"value": m} for m in members]
        resp = await self.http.post("/Groups", json=body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())


def scim_http(h: Harness, token: str) -> httpx.AsyncClient:
    """An httpx client for /scim/v2 on the harness's ASGI transport."""
    return httpx.AsyncClient(
        transport=h.client._transport,
        base_url=BASE,
        headers={**h.auth(token), "Content-Type": SCIM_JSON, "Accept": SCIM_JSON},
    )


@pytest.fixture
async def scim(harness: Harness) -> AsyncIterator[Scim]:
    """Tenant `acme` with a scim:write token, plus tenant `other`."""
    await harness.tenant("acme")
    await harness.tenant("other")
    token = await harness.token("acme", "scim:write")
    async with scim_http(harness, token) as http:
        provider = ScimProvider(
            models=[User, EnterpriseUser, Group],
            resource_types=[
                ResourceType.from_resource(User[EnterpriseUser]),
                ResourceType.from_resource(Group),
            ],
        )
        client = HttpxSCIMClient(http, provider=provider)
        yield Scim(harness, http, client, "acme")
