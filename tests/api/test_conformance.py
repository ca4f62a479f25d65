"""HTTP and OpenAPI conformance: `Allow` on 405s, and a document that says what the server does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness

OPA_PATHS = ("/v1/data", "/v1/policies")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/scim/v2/Users", {"GET", "POST"}),
        ("POST", "/scim/v2/Groups/some-id", {"GET", "PUT", "PATCH", "DELETE"}),
        ("PATCH", "/v1/integration/tokens", {"GET", "POST"}),
        ("PUT", "/health", {"GET"}),
    ],
)
async def test_405_lists_every_method(
    harness: Harness, method: str, path: str, allowed: set[str]
) -> None:
    """RFC 9110 §15.5.6: `Allow` names every method the path takes, not the first route's."""
    resp = await harness.client.request(method, path)
    assert resp.status_code == 405
    assert {m.strip() for m in resp.headers["allow"].split(",")} == allowed


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (path, method, operation) of the document."""
    return [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]


async def test_documented_errors_match_what_is_sent(harness: Harness) -> None:
    """Errors are documented in the media type the server answers them in; every operation
    needing a token documents 401, and every one taking a body documents 400."""
    spec = (await harness.client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in spec["components"].get("schemas", {})
    for path, method, op in operations(spec):
        responses = op["responses"]
        if "security" in op:
            assert "401" in responses, (path, method)
        if "requestBody" in op:
            assert "400" in responses, (path, method)
        for code, entry in responses.items():
            if not code.startswith(("4", "5")):
                continue
            kinds = set(entry.get("content", {}))
            if path.startswith("/scim/v2"):
                assert kinds == {"application/scim+json"}, (path, method, code)
                assert code != "422", (path, method)  # SCIM refuses bad input with 400
            elif path.startswith(OPA_PATHS) or path == "/" or path == "/ready":
                assert kinds == {"application/json"}, (path, method, code)
            elif not path.startswith("/access/"):
                assert kinds == {"application/problem+json"}, (path, method, code)


async def test_validation_errors_are_problem_json_as_documented(harness: Harness) -> None:
    """A 422 on a problem+json route is problem+json with `errors`, as the document says."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "tokens:write"))
    resp = await harness.client.post("/v1/integration/tokens", json={"name": 5}, headers=auth)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["errors"]


@pytest.mark.parametrize(
    ("path", "param"),
    [("/pip/audit/logs", "start_date"), ("/v1/decisions", "start")],
)
async def test_date_time_parameters_take_iso_8601_only(
    harness: Harness, path: str, param: str
) -> None:
    """`0.5` is no date-time (pydantic alone reads it as Unix time); ISO forms are taken."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "admin:*"))
    for bad in ("0.5", "1700000000", "yesterday"):
        resp = await harness.client.get(path, params={param: bad}, headers=auth)
        assert resp.status_code == 422, (path, bad, resp.text)
    for good in ("2026-12-01", "2026-12-01T09:00:00Z"):
        resp = await harness.client.get(path, params={param: good}, headers=auth)
        assert resp.status_code == 200, (path, good, resp.text)
