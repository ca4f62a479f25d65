"""PUT/PATCH/DELETE /v1/data: tenant-local data beside the store's document."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.conftest import BOTH
from tests.decisions.conftest import Api, opa_error
from tests.fleet.conftest import audit_of


async def send(api: Api, method: str, path: str, body: Any, **headers: str) -> httpx.Response:
    """A write to /v1/data/{path} as the policy writer."""
    return await api.h.client.request(
        method,
        f"/v1/data/{path}",
        content=orjson.dumps(body) if body is not None else None,
        headers={**api.h.auth(api.writer), "Content-Type": "application/json", **headers},
    )


@BOTH
async def test_crud_and_json_patch(api: Api) -> None:
    """PUT creates, If-None-Match keeps, PATCH edits, DELETE removes; decisions see each."""
    assert (await send(api, "PUT", "config/limits", {"max": 3, "tags": ["a"]})).status_code == 204
    assert (await api.ask("config/limits", {}))["result"] == {"max": 3, "tags": ["a"]}
    kept = await send(api, "PUT", "config/limits", {"max": 9}, **{"If-None-Match": "*"})
    assert kept.status_code == 304
    ops = [
        {"op": "replace", "path": "/max", "value": 5},
        {"op": "add", "path": "/tags/-", "value": "b"},
        {"op": "remove", "path": "/tags/0"},
    ]
    assert (await send(api, "PATCH", "config/limits", ops)).status_code == 204
    assert (await api.ask("config/limits", {}))["result"] == {"max": 5, "tags": ["b"]}
    bad = await send(api, "PATCH", "config/limits", [{"op": "remove", "path": "/nope"}])
    assert opa_error(bad, 404)["code"] == "resource_not_found"
    assert (await send(api, "DELETE", "config/limits", None)).status_code == 204
    assert "result" not in await api.ask("config/limits", {})
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
