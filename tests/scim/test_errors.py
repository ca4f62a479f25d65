"""Every failure under /scim/v2 is a SCIM Error in application/scim+json; other paths keep
problem+json."""

import httpx
import pytest

from gatehouse.identity import service
from tests.conftest import BOTH
from tests.scim.conftest import BASE, SCIM_JSON, Scim, scim_http

pytestmark = BOTH
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_error(resp: httpx.Response, status: int, scim_type: str | None = None) -> dict[str, str]:
    """Assert a SCIM error of this status (and scimType) and return its body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == SCIM_JSON
    body = resp.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    return dict(body)


async def test_authentication_and_scopes(scim: Scim) -> None:
    """401 without a token, 403 without the scope; scim:write also reads, scim:read only reads."""
    h = scim.h
    anonymous = await h.client.get(f"{BASE}/Users")
    scim_error(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    scim_error(await h.client.get(f"{BASE}/Users", headers=h.auth("gth_nonsense")), 401)
    unrelated = await h.token("acme", "identities:read")
    scim_error(await h.client.get(f"{BASE}/Users", headers=h.auth(unrelated)), 403)
    reader = await h.token("acme", "scim:read")
    async with scim_http(h, reader) as read_only:
        assert (await read_only.get("/Users")).status_code == 200
        assert (await read_only.post("/Users/.search", json={})).status_code == 200
        scim_error(await read_only.post("/Users", json={"userName": "x"}), 403)
    assert (await scim.http.get("/Users")).status_code == 200
    # Problem+json stays the dialect elsewhere.
    other = await h.client.get("/v1/identities")
    assert other.status_code == 401
    assert other.headers["content-type"] == "application/problem+json"


async def test_rate_limit_is_a_scim_error(scim: Scim) -> None:
    """A spent token budget answers 429 in SCIM's shape, with Retry-After."""
    token = await scim.h.token("acme", "scim:read", rate_limit_per_minute=1)
    async with scim_http(scim.h, token) as http:
        assert (await http.get("/Users")).status_code == 200
        refused = await http.get("/Users")
    scim_error(refused, 429)
    assert int(refused.headers["retry-after"]) > 0


async def test_malformed_requests(scim: Scim) -> None:
    """Bad JSON, a non-object body, bad query parameters, unknown routes and methods."""
    before = await scim.counts()
    scim_error(await scim.http.post("/Users", content=b'{"userName": '), 400, "invalidSyntax")
    scim_error(await scim.http.post("/Users", json=["userName"]), 400, "invalidSyntax")
    scim_error(await scim.http.post("/Groups", content=b""), 400, "invalidSyntax")
    scim_error(await scim.http.get("/Users", params={"count": "many"}), 400, "invalidValue")
    scim_error(await scim.http.get("/Nope"), 404)
    scim_error(await scim.http.get("/Users/does-not-exist"), 404)
    scim_error(await scim.http.delete("/ServiceProviderConfig"), 405)
    assert await scim.counts() == before


async def test_not_offered(scim: Scim) -> None:
    """/Me answers 501 (a token is not an identity); so does root search."""
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        scim_error(await scim.http.request(method, "/Me"), 501)
    scim_error(await scim.http.post("/.search", json={}), 501)


async def test_conflicts_and_preconditions(scim: Scim) -> None:
    """409 uniqueness on a taken userName; 412 on a stale If-Match; nothing written."""
    user = await scim.user("ada@example.com")
    before = await scim.counts()
    scim_error(
        await scim.http.post("/Users", json={"userName": "ADA@example.com"}), 409, "uniqueness"
    )
    stale = {"If-Match": 'W/"7"'}
    body = {"userName": "ada@example.com", "title": "CTO"}
    scim_error(await scim.http.put(f"/Users/{user['id']}", json=body, headers=stale), 412)
    patch = {"Operations": [{"op": "replace", "path": "title", "value": "CTO"}]}
    scim_error(await scim.http.patch(f"/Users/{user['id']}", json=patch, headers=stale), 412)
    scim_error(await scim.http.delete(f"/Users/{user['id']}", headers=stale), 412)
    assert await scim.counts() == before


async def test_failed_writes_are_audited(scim: Scim) -> None:
    """A refused SCIM write leaves a failure entry in the audit log, nothing else."""
    await scim.user("ada")
    await scim.http.post("/Users", json={"userName": "ada"})
    token = await scim.h.token("acme", "audit:read")
    entries = (await scim.h.client.get("/pip/audit/logs", headers=scim.h.auth(token))).json()[
        "items"
    ]
    failed = [e for e in entries if e["action"] == "scim.user.create" and e["outcome"] == "failure"]
    assert len(failed) == 1


async def test_a_lost_race_for_a_user_name_is_409(
    scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a concurrent writer takes the userName after our check, the constraint says 409."""
    await scim.user("raced@example.com")
    before = await scim.counts()

    async def too_late(*args: object, **kwargs: object) -> None:
        return None  # the other writer committed after this check ran

    monkeypatch.setattr(service, "_ensure_unique", too_late)
    scim_error(
        await scim.http.post("/Users", json={"userName": "Raced@example.com"}), 409, "uniqueness"
    )
    assert await scim.counts() == before
