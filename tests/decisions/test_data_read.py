"""`decisions:evaluate` asks for decisions; reading data documents needs `data:read`."""

from __future__ import annotations

import pytest

from tests.conftest import BOTH
from tests.decisions.conftest import Api, opa_error

pytestmark = BOTH
DATA_PATHS = ("gatehouse/users", "gatehouse", "gatehouse/users/x/groups", "acme/limits", "acme")


async def local_data(api: Api) -> None:
    """Tenant-local data at /acme/limits."""
    resp = await api.h.client.put(
        "/v1/data/acme/limits",
        json={"max": 5},
        headers=api.h.auth(api.writer),
    )
    assert resp.status_code == 204, resp.text


async def test_an_evaluator_cannot_read_the_directory(api: Api) -> None:
    """The enforcement point's token is refused every path that reads the store's document or
    tenant-local data (GET and POST, with input or not, the root, explain), in OPA's shape."""
    await local_data(api)
    h, auth = api.h, api.h.auth(api.evaluator)
    for path in (*DATA_PATHS, "", "gatehouse.users"):
        got = await h.client.get(f"/v1/data/{path}", headers=auth)
        body = opa_error(got, 403)
        assert body["code"] == "unauthorized" and "data:read" in body["message"], path
        opa_error(await api.post(path, {"input": {"subject": "alice"}}), 403)
        opa_error(await api.post(path, {}, query="?metrics=true"), 403)
        opa_error(await api.post(path, {}, query="?explain=full"), 403)
        got = await h.client.get(f"/v1/data/{path}?input=%7B%7D&pretty=true", headers=auth)
        opa_error(got, 403)
    # Rules still answer, by GET and POST.
    assert (await api.ask("authz/allow", {"action": "read", "subject": "alice"}))["result"]
    got = await h.client.get("/v1/data/authz/titles", headers=auth)
    assert got.status_code == 200 and sorted(got.json()["result"]) == ["Clerk", "Engineer"]


@pytest.mark.parametrize("scope", ["data:read", "data:*", "admin:*"])
async def test_data_read_reads_data(api: Api, scope: str) -> None:
    """`data:read` (or a wildcard holding it) reads the documents as OPA would answer them."""
    await local_data(api)
    token = await api.h.token(api.org.tenant, scope)
    users = (await api.ask("gatehouse/users", {}, token))["result"]
    assert set(users) == set(api.org.users.values())
    assert (await api.ask("acme/limits", {}, token))["result"] == {"max": 5}


async def test_the_default_decision_cannot_point_at_data(api: Api) -> None:
    """`POST /` of an evaluator is refused when the default decision names a data document."""
    h = api.h
    resp = await h.client.patch(
        "/v1/tenants/acme/decision-config",
        json={"default_decision": "gatehouse/users"},
        headers=h.auth(api.writer),
    )
    assert resp.status_code == 200, resp.text
    headers = {**h.auth(api.evaluator), "Content-Type": "application/json"}
    opa_error(await h.client.post("/", content=b"{}", headers=headers), 403)
    reader = await h.token(api.org.tenant, "decisions:evaluate", "data:read")
    headers = {**h.auth(reader), "Content-Type": "application/json"}
    resp = await h.client.post("/", content=b"{}", headers=headers)
    assert set(resp.json()) == set(api.org.users.values())
