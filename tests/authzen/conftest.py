"""AuthZEN fixtures: acme (tests/decisions) with an AuthZEN-shaped policy, and request helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.decisions.conftest import Api, api, org

__all__ = ["Zen", "api", "org", "zen"]

POLICY = """package authz

default allow := false

allow if {
    input.action.name == "read"
    "engineering" in input.subject.groups
}

allow if input.subject.title == "Boss"

allow if input.resource.properties.public == true

allow if {
    input.resource_type == "invoice"
    "engineering" in input.subject.groups
}

default detailed := {"allow": false, "reasons": ["only engineers"]}

detailed := {
    "allow": true,
    "constraints": {"max_amount": 100, "pci": "pci-dss" in input.compliance_requirements},
    "reasons": ["engineer"],
} if "engineering" in input.subject.groups

text := "yes"
"""


@dataclass
class Zen:
    """Acme's tokens and helpers for AuthZEN and /v1/authorize."""

    api: Api

    @property
    def h(self) -> Any:
        """The harness."""
        return self.api.h

    def user(self, name: str) -> dict[str, Any]:
        """An AuthZEN subject of acme's user (by id; the store fills in the rest)."""
        return {"type": "user", "id": self.api.org.users[name]}

    async def post(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        """POST a JSON body as acme's evaluator."""
        headers = self.h.auth(token or self.api.evaluator)
        return await self.h.client.post(path, json=body, headers=headers)

    async def one(self, body: dict[str, Any]) -> dict[str, Any]:
        """The 200 body of /access/v1/evaluation."""
        resp = await self.post("/access/v1/evaluation", body)
        assert resp.status_code == 200, resp.text
        out: dict[str, Any] = resp.json()
        return out

    async def many(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The `evaluations` of a 200 /access/v1/evaluations."""
        resp = await self.post("/access/v1/evaluations", body)
        assert resp.status_code == 200, resp.text
        out: list[dict[str, Any]] = resp.json()["evaluations"]
        return out

    async def entrypoint(self, rule: str) -> None:
        """Set acme's entrypoint rule."""
        body = {"enrich": True, "entrypoint": rule}
        headers = self.h.auth(self.api.writer)
        resp = await self.h.client.put("/v1/decision-settings", json=body, headers=headers)
        assert resp.status_code == 200, resp.text


def ask(subject: dict[str, Any], action: str = "read", **resource: Any) -> dict[str, Any]:
    """An AuthZEN evaluation request."""
    return {
        "subject": subject,
        "action": {"name": action},
        "resource": {"type": "document", "id": "d1", **resource},
    }


@pytest.fixture
async def zen(api: Api) -> Zen:
    """Acme with the AuthZEN-shaped `authz` policy."""
    resp = await api.put_policy("authz/main.rego", POLICY)
    assert resp.status_code == 200, resp.text
    return Zen(api)
