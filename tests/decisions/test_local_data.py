"""PUT/PATCH/DELETE /v1/data: tenant-local data beside the store's document."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.conftest import BOTH
from tests.decisions.conftest import Api, opa_error
from tests.fleet.conftest import audit_of


async def send(
    api: Api, method: str, path: str, body: Any, raw: str | None = None, **headers: str
) -> httpx.Response:
    """A write to /v1/data/{path} as the policy writer (`raw`: the body's text as given)."""
    content = raw.encode() if raw is not None else orjson.dumps(body) if body is not None else None
    return await api.h.client.request(
        method,
        f"/v1/data/{path}",
        content=content,
        headers={**api.h.auth(api.writer), "Content-Type": "application/json", **headers},
    )


@BOTH
async def test_crud_and_json_patch(api: Api) -> None:
    """PUT creates, If-None-Match keeps, PATCH edits, DELETE removes; data readers see each."""
    data = await api.h.token(api.org.tenant, "data:read", "decisions:evaluate")
    assert (await send(api, "PUT", "config/limits", {"max": 3, "tags": ["a"]})).status_code == 204
    assert (await api.ask("config/limits", {}, data))["result"] == {"max": 3, "tags": ["a"]}
    kept = await send(api, "PUT", "config/limits", {"max": 9}, **{"If-None-Match": "*"})
    assert kept.status_code == 304
    ops = [
        {"op": "replace", "path": "/max", "value": 5},
        {"op": "add", "path": "/tags/-", "value": "b"},
        {"op": "remove", "path": "/tags/0"},
    ]
    assert (await send(api, "PATCH", "config/limits", ops)).status_code == 204
    assert (await api.ask("config/limits", {}, data))["result"] == {"max": 5, "tags": ["b"]}
    bad = await send(api, "PATCH", "config/limits", [{"op": "remove", "path": "/nope"}])
    assert opa_error(bad, 404)["code"] == "resource_not_found"
    assert (await send(api, "DELETE", "config/limits", None)).status_code == 204
    assert "result" not in await api.ask("config/limits", {}, data)
    opa_error(await send(api, "DELETE", "config/limits", None), 404)
    entries = [e for e in await audit_of(api.h) if e.action.startswith("decision_data")]
    done = [e.action for e in entries if e.outcome == "success"]
    assert done == ["decision_data.put", "decision_data.patch", "decision_data.delete"]
    assert [e.outcome for e in entries].count("failure") == 2


async def test_store_root_is_never_overwritten(api: Api) -> None:
    """Writes at, above or below the store's root are a clear 400; so are bad bodies."""
    for path in ("gatehouse", "gatehouse/users/x", ""):
        body = opa_error(await send(api, "PUT", path, {"x": 1}), 400)
        assert body["code"] == "invalid_parameter"
    msg = opa_error(await send(api, "PUT", "gatehouse/users", {}), 400)["message"]
    assert "owns" in msg
    raw = await api.h.client.put(
        "/v1/data/config/x",
        content=b"{oops",
        headers={**api.h.auth(api.writer), "Content-Type": "application/json"},
    )
    assert opa_error(raw, 400)["code"] == "invalid_parameter"
    assert opa_error(await send(api, "PATCH", "config/x", {"op": "add"}), 404)["code"]


async def test_writes_need_policies_write(api: Api) -> None:
    """An evaluate-only token cannot write data."""
    resp = await api.h.client.put(
        "/v1/data/config/x",
        content=b"1",
        headers={**api.h.auth(api.evaluator), "Content-Type": "application/json"},
    )
    assert opa_error(resp, 403)["code"] == "unauthorized"


async def test_a_write_needs_a_body(api: Api) -> None:
    """A PUT or PATCH with no body is OPA's 400 (its decoder meets EOF), and nothing is stored;
    a `null` body is the value null, as OPA stores it."""
    for method in ("PUT", "PATCH"):
        for empty in (b"", b" \n"):
            resp = await api.h.client.request(
                method,
                "/v1/data/config/x",
                content=empty,
                headers={**api.h.auth(api.writer), "Content-Type": "application/json"},
            )
            body = opa_error(resp, 400)
            assert body["code"] == "invalid_parameter"
            assert "EOF" in body["message"]
    assert "result" not in await api.ask("config/x", {})
    assert (await send(api, "PUT", "config/x", None, raw="null")).status_code == 204


async def test_a_null_evaluation_body_means_no_input(api: Api) -> None:
    """`POST /v1/data` with `null` is read as OPA reads it (no input), not refused; any other
    body that is not an object is OPA's 400."""
    auth = {**api.h.auth(api.evaluator), "Content-Type": "application/json"}
    ok = await api.h.client.post("/v1/data/config", content=b"null", headers=auth)
    assert ok.status_code == 200, ok.text
    bad = await api.h.client.post("/v1/data/config", content=b"[1]", headers=auth)
    assert opa_error(bad, 400)["code"] == "invalid_parameter"
