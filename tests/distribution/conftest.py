"""Distribution fixtures: a tenant provisioned over SCIM and bundle helpers."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Harness

SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def unpack(body: bytes) -> dict[str, bytes]:
    """The files of a gzipped bundle tarball, by name without the leading slash."""
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {
            m.name.lstrip("/"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


@dataclass
class Org:
    """A tenant with SCIM-provisioned people and groups, and tokens to read its bundles."""

    h: Harness
    tenant: str
    admin: str  # admin:* token
    reader: str  # bundles:read token
    users: dict[str, str]  # userName → id
    groups: dict[str, str]  # displayName → id

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """Authorization (the reader's by default) plus extra headers."""
        return {"Authorization": f"Bearer {token or self.reader}", **extra}

    async def scim(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A SCIM request as the admin; returns the JSON body."""
        r = await self.h.client.request(
            method,
            f"/scim/v2/{path}",
            content=json.dumps(body) if body is not None else None,
            headers={**self.headers(self.admin), "Content-Type": SCIM},
        )
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    async def add_user(self, name: str, **extra: Any) -> str:
        """Provision a user; returns its id."""
        doc = await self.scim("POST", "Users", {"schemas": [USER], "userName": name, **extra})
        self.users[name] = doc["id"]
        return str(doc["id"])

    async def add_group(self, name: str, *members: str) -> str:
        """Provision a group with members (ids); returns its id."""
        body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
        doc = await self.scim("POST", "Groups", body)
        self.groups[name] = doc["id"]
        return str(doc["id"])

    async def patch_user(self, user_id: str, path: str, value: Any) -> None:
        """SCIM PATCH replace of one attribute."""
        ops = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": path, "value": value}]}
        await self.scim("PATCH", f"Users/{user_id}", ops)

    async def bundle(self, token: str | None = None, **headers: str) -> httpx.Response:
        """GET the tenant's bundle."""
        return await self.h.client.get(
            f"/bundles/{self.tenant}", headers=self.headers(token, **headers)
        )

    async def data(self) -> dict[str, Any]:
        """The data document of the current full bundle."""
        r = await self.bundle()
        assert r.status_code == 200, r.text
        return dict(json.loads(unpack(r.content)["data.json"]))


@pytest.fixture
async def org(harness: Harness) -> Org:
    """Tenant `acme`: alice and bob; engineering inside staff; alice in engineering."""
    return await acme(harness)


async def acme(harness: Harness) -> Org:
    """Provision tenant `acme`: alice and bob; engineering inside staff; alice in engineering."""
    tenant = await harness.tenant("acme")
    admin = await harness.token(tenant, "admin:*")
    reader = await harness.token(tenant, "bundles:read")
    o = Org(harness, tenant, admin, reader, {}, {})
    alice = await o.add_user(
        "alice",
        emails=[{"value": "alice@acme.test", "primary": True}],
        title="Engineer",
        roles=[{"value": "developer"}],
    )
    await o.add_user("bob", title="Clerk")
    engineering = await o.add_group("engineering", alice)
    await o.add_group("staff", engineering)
    return o
