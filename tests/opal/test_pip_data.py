"""GET /opal/pip-data/{tenant}[/{path}]: the complete document OPAL clients fetch."""

from __future__ import annotations

import orjson

from gatehouse.config import Settings
from tests.conftest import started
from tests.distribution.conftest import Org
from tests.fleet.conftest import problem
from tests.opal.conftest import LOOPBACK


async def test_the_document_is_the_bundles_document_below_its_root(org: Org) -> None:
    """Same data as the bundle's `data.json` under `gatehouse`; ETag and 304 as for bundles."""
    r = await org.h.client.get(f"/opal/pip-data/{org.tenant}", headers=org.headers())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == (await org.data())["gatehouse"]
    again = await org.h.client.get(
        f"/opal/pip-data/{org.tenant}", headers=org.headers(**{"If-None-Match": r.headers["etag"]})
    )
    assert again.status_code == 304
    assert again.headers["etag"] == r.headers["etag"]
    await org.patch_user(org.users["bob"], "title", "Boss")
    changed = await org.h.client.get(
        f"/opal/pip-data/{org.tenant}", headers=org.headers(**{"If-None-Match": r.headers["etag"]})
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != r.headers["etag"]
    assert changed.json()["users"][org.users["bob"]]["title"] == "Boss"


async def test_parts_by_path(org: Org) -> None:
    """A slash-separated path picks a sub-document; an absent one is 404."""
    opal = await org.h.token(org.tenant, "opal:read")
    alice = org.users["alice"]
    r = await org.h.client.get(
        f"/opal/pip-data/{org.tenant}/users/{alice}", headers=org.headers(opal)
    )
    assert r.status_code == 200, r.text
    assert r.json()["userName"] == "alice"
    groups = await org.h.client.get(
        f"/opal/pip-data/{org.tenant}/groups", headers=org.headers(opal)
    )
    assert len(groups.json()) == 2
    missing = await org.h.client.get(
        f"/opal/pip-data/{org.tenant}/nothing/here", headers=org.headers(opal)
    )
    problem(missing, 404)


async def test_other_tenants_and_bad_tokens_see_nothing(org: Org) -> None:
    """Another tenant's token and an unknown tenant answer alike; no token is 401."""
    await org.h.tenant("globex")
    theirs = await org.h.token("globex", "opal:read")
    for tenant in (org.tenant, "no-such-tenant"):
        r = await org.h.client.get(f"/opal/pip-data/{tenant}", headers=org.headers(theirs))
        assert problem(r, 404)["detail"] == "No data here for this token."
    problem(await org.h.client.get(f"/opal/pip-data/{org.tenant}"), 401)
    wrong = await org.h.client.get(
        f"/opal/pip-data/{org.tenant}", headers=org.headers("gth_notarealtoken")
    )
    problem(wrong, 401)
    other_scope = await org.h.token(org.tenant, "scim:read")
    r = await org.h.client.get(f"/opal/pip-data/{org.tenant}", headers=org.headers(other_scope))
    assert problem(r, 403)["required_scope"] == "opal:read"


async def test_oversize_documents_are_refused_clearly(settings: Settings) -> None:
    """Over GATEHOUSE_OPAL_MAX_DOCUMENT_BYTES: 422 naming the size, the limit and the way out."""
    small = settings.model_copy(
        update={"opal_max_document_bytes": 1024, "outbound_allow": LOOPBACK}
    )
    async with started(small) as h:
        o = Org(h, await h.tenant("acme"), "", "", {}, {})
        o.admin = await h.token("acme", "admin:*")
        o.reader = await h.token("acme", "opal:read")
        for n in range(20):
            await o.add_user(f"user{n}", title="x" * 80)
        r = await h.client.get("/opal/pip-data/acme", headers=o.headers())
        body = problem(r, 422)
        assert body["limit_bytes"] == 1024
        assert body["size_bytes"] > 1024
        assert "GATEHOUSE_OPAL_MAX_DOCUMENT_BYTES" in body["detail"]
        part = await h.client.get(
            f"/opal/pip-data/acme/users/{o.users['user1']}", headers=o.headers()
        )
        problem(part, 422)
        assert orjson.loads(r.content)["title"] == "Data document too large"


async def test_a_deeper_root_is_where_opal_puts_the_document(org: Org) -> None:
    """With the document's root at `org/data`, pip-data serves what is inside it and the
    generated entry's dst_path is `/org/data`."""
    r = await org.h.client.put(
        "/v1/distribution/config", json={"root": "org/data"}, headers=org.headers(org.admin)
    )
    assert r.status_code == 200, r.text
    served = await org.h.client.get(f"/opal/pip-data/{org.tenant}", headers=org.headers())
    assert served.json() == (await org.data())["org"]["data"]
    config = await org.h.client.get("/pip/opal/config", headers=org.headers(org.admin))
    assert config.json()["data_sources"]["config"]["entries"][0]["dst_path"] == "/org/data"
