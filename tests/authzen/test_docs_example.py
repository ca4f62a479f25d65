"""docs/authzen.md's example rules, run as written against groups spelt as the demo's are."""

from __future__ import annotations

import re
from pathlib import Path

from tests.authzen.conftest import Zen, ask

DOC = Path(__file__).parents[2] / "docs" / "authzen.md"


def rego_blocks() -> list[str]:
    """Every ```rego block of the page."""
    return re.findall(r"```rego\n(.*?)```", DOC.read_text(), re.S)


async def test_the_documented_rules_allow_a_demo_engineer(zen: Zen) -> None:
    """An engineer (group `Engineering`, as `make run`'s demo names it) may `can_read`, and
    gets the documented object result; a clerk may not; a repeat comes from the cache."""
    org = zen.api.org
    patch = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ops = [{"op": "replace", "path": "displayName", "value": "Engineering"}]
    await org.scim(
        "PATCH", f"Groups/{org.groups['engineering']}", {"schemas": [patch], "Operations": ops}
    )
    allow, decision = rego_blocks()[:2]
    resp = await zen.api.put_policy("authz/main.rego", allow)
    assert resp.status_code == 200, resp.text
    await zen.entrypoint("authz/allow")
    assert (await zen.one(ask(zen.user("alice"), "can_read")))["decision"] is True
    assert (await zen.one(ask(zen.user("bob"), "can_read")))["decision"] is False
    resp = await zen.api.put_policy("authz/main.rego", decision)
    assert resp.status_code == 200, resp.text
    await zen.entrypoint("authz/decision")
    body = {"subject": zen.user("alice"), "action": "read", "resource": "r"}
    first = (await zen.post("/v1/authorize", body)).json()
    again = (await zen.post("/v1/authorize", body)).json()
    assert first["allow"] is True and first["reasons"] == ["engineer"]
    assert (first["cached"], again["cached"]) == (False, True)
