"""Decision fixtures: tenant `acme` provisioned over SCIM, a policy, and OPA API helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Harness
from tests.distribution.conftest import Org, org

__all__ = ["Api", "api", "org"]

AUTHZ = """package authz

default allow := false

user := data.gatehouse.users[input.subject.id]

allow if {
    input.action == "read"
    "engineering" in input.subject.groups
}

allow if input.subject.title == "Boss"

titles contains u.title if some u in data.gatehouse.users
"""


@dataclass
class Api:
    """Tokens of tenant acme and helpers for OPA's REST API."""

    org: Org
    evaluator: str  # decisions:evaluate
    writer: str  # policies:write
    reader: str  # policies:read

    @property
    def h(self) -> Harness:
        """The harness."""
        return self.org.h

    async def put_policy(
        self, policy_id: str, raw: str, token: str | None = None
    ) -> httpx.Response:
        """PUT /v1/policies/{id} with a Rego body."""
        return await self.h.client.put(
            f"/v1/policies/{policy_id}",
            content=raw.encode(),
            headers={**self.h.auth(token or self.writer), "Content-Type": "text/plain"},
        )

    async def post(
        self, path: str, body: Any = None, token: str | None = None, query: str = ""
    ) -> httpx.Response:
        """POST /v1/data/{path} with a JSON body."""
        content = orjson.dumps(body) if body is not None else b""
        return await self.h.client.post(
            f"/v1/data/{path}{query}",
            content=content,
            headers={**self.h.auth(token or self.evaluator), "Content-Type": "application/json"},
        )

    async def ask(self, path: str, input: Any, token: str | None = None) -> dict[str, Any]:
        """The 200 body of POST /v1/data/{path} with this input."""
        resp = await self.post(path, {"input": input}, token)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body


def opa_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    """OPA's error body of a refused request."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    assert isinstance(body["code"], str) and isinstance(body["message"], str)
    return body


@pytest.fixture
async def api(org: Org) -> Api:
    """Acme's tokens, with the `authz` policy uploaded."""
    h = org.h
    out = Api(
        org,
        await h.token(org.tenant, "decisions:evaluate"),
        await h.token(org.tenant, "policies:write"),
        await h.token(org.tenant, "policies:read"),
    )
    resp = await out.put_policy("authz/main.rego", AUTHZ)
    assert resp.status_code == 200, resp.text
    return out
