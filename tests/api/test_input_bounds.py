"""The request boundary: NUL characters and integers beyond 64 bits are refused as bad input,
naming where they were, in each route's error dialect (no 500 from PostgreSQL or orjson)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from gatehouse.kit.jsonbounds import INT_MAX, INT_MIN, json_refusal, text_refusal
from gatehouse.tenants.models import PLATFORM
from tests.conftest import BOTH, Harness

BIG = 2**64  # 18446744073709551616: one past what orjson writes
JSON = {"Content-Type": "application/json"}


def raw(doc: Any) -> bytes:
    """JSON text with integers of any size (orjson refuses to write BIG)."""
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"a": "x\\u0000y"}', "/a"),
        (b'{"a": [1, {"b\\u0000": 2}]}', "/a/1/b\x00"),
        (b'{"n": 18446744073709551616}', "/n"),
        (b'{"n": [-9223372036854775809]}', "/n/0"),
        (b'{"a/b": {"~": 99999999999999999999}}', "/a~1b/~0"),
    ],
)
def test_json_refusals_name_the_value(body: bytes, where: str) -> None:
    """The pointer names the offending value (or member name)."""
    found = json_refusal(body)
    assert found is not None
    assert found.where == where


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "x\\\\u0000"}',  # an escaped backslash then the text u0000: no NUL
        b'{"n": 18446744073709551615, "m": -9223372036854775808}',  # the 64-bit extremes
        b'{"f": 1.23456789012345678901234}',
        b'{"id": "12345678901234567890123"}',  # digits in a string
        b"not json \\u0000",
        b"[" * 100_000,
    ],
)
def test_json_accepted(body: bytes) -> None:
    """Storable values, text that only looks alike, and non-JSON (its route judges) pass."""
    assert json_refusal(body) is None
    assert orjson.loads(b'{"n": %d}' % INT_MAX)["n"] == INT_MAX
    assert orjson.loads(b'{"n": %d}' % INT_MIN)["n"] == INT_MIN


def test_text_refusals() -> None:
    """A NUL in the path or any query parameter (name or value) is named."""
    assert text_refusal("/v1/tenants/a\x00b", b"") is not None
    found = text_refusal("/x", b"a=1&filter=userName%20eq%20%22a%00%22")
    assert found is not None
    assert found.where == "query parameter 'filter'"
    assert text_refusal("/x", b"a=%2500") is None  # an escaped percent sign: the text `%00`


@pytest.fixture
async def platform(harness: Harness) -> dict[str, str]:
    """Headers of a platform admin token."""
    return {**harness.auth(await harness.token(PLATFORM, "platform:admin")), **JSON}


@BOTH
async def test_nul_in_a_tenant_name(harness: Harness, platform: dict[str, str]) -> None:
    """PostgreSQL cannot store a NUL: 422 problem+json naming the member, nothing written."""
    c = harness.client
    resp = await c.post(
        "/v1/tenants", content=raw({"id": "t1", "name": "a\x00b"}), headers=platform
    )
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["errors"][0]["field"] == "/name"
    assert "x-request-id" in resp.headers
    assert (await c.get("/v1/tenants/t1", headers=platform)).status_code == 404


@BOTH
async def test_nul_in_a_path(harness: Harness, platform: dict[str, str]) -> None:
    """A NUL in a path segment is refused before any look-up."""
    resp = await harness.client.get("/v1/tenants/a%00b", headers=platform)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == "path"


@BOTH
async def test_nul_in_a_scim_filter(harness: Harness) -> None:
    """SCIM answers its own 400 (invalidValue) for a NUL in a filter or a body."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "scim:write", "scim:read"))
    c = harness.client
    resp = await c.get("/scim/v2/Users", params={"filter": 'userName eq "a\x00"'}, headers=auth)
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/scim+json")
    assert resp.json()["scimType"] == "invalidValue"
    assert "filter" in resp.json()["detail"]
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a\x00"}
    resp = await c.post(
        "/scim/v2/Users",
        content=raw(user),
        headers={**auth, "Content-Type": "application/scim+json"},
    )
    assert resp.status_code == 400, resp.text
    assert "/userName" in resp.json()["detail"]


@BOTH
async def test_integers_beyond_64_bits(harness: Harness, platform: dict[str, str]) -> None:
    """Tenant settings, a status report's metrics and OPA data are refused alike (no 500, and
    PUT /v1/data no longer stores a float in its place); 64-bit values are kept exactly."""
    c = harness.client
    body = raw({"id": "t1", "name": "T", "settings": {"n": BIG}})
    resp = await c.post("/v1/tenants", content=body, headers=platform)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == "/settings/n"

    await harness.tenant("acme")
    reporter = harness.auth(await harness.token("acme", "fleet:report"))
    report = {"labels": {"id": "opa-1"}, "metrics": {"prometheus": {"n": BIG}}}
    resp = await c.post("/opa/status", content=raw(report), headers={**reporter, **JSON})
    assert resp.status_code == 422, resp.text

    writer = harness.auth(await harness.token("acme", "policies:write"))
    resp = await c.put("/v1/data/app/n", content=raw(BIG), headers={**writer, **JSON})
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["code"] == "invalid_parameter"
    resp = await c.put("/v1/data/app/n", content=raw(INT_MAX), headers={**writer, **JSON})
    assert resp.status_code == 204, resp.text
