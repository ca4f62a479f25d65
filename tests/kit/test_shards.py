"""Per-segment route dispatch answers exactly what FastAPI's own routing answers."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from gatehouse.kit.shards import ANY, build_shards, dispatch, first_segment, segments


def routers() -> list[APIRouter]:
    """Two routers sharing `/v1`, one nested, one with a parameter first."""
    a = APIRouter()
    b = APIRouter()
    inner = APIRouter()
    wild = APIRouter()

    @a.get("/bundles/{tenant}")
    async def bundle(tenant: str) -> dict[str, str]:
        return {"bundle": tenant}

    @a.get("/v1/a")
    async def v1a() -> dict[str, str]:
        return {"from": "a"}

    @inner.post("/v1/b")
    async def v1b() -> dict[str, str]:
        return {"from": "b"}

    @inner.get("/scim/v2/Users")
    async def users() -> dict[str, str]:
        return {"from": "scim"}

    b.include_router(inner)

    @wild.get("/{anything}/wild")
    async def anything(anything: str) -> dict[str, str]:
        return {"wild": anything}

    return [a, b, wild]


def app_for(shard: bool) -> FastAPI:
    """An app with the routers, sharded or not."""
    app = FastAPI()
    built = routers()
    for router in built:
        app.include_router(router)
    if shard:
        dispatch(app, built)
    return app


@pytest.fixture(params=[False, True], ids=["fastapi", "sharded"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app, with FastAPI's routing and with shards."""
    transport = httpx.ASGITransport(app=app_for(request.param))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def test_segments_descend_into_included_routers() -> None:
    """Nested routers contribute their paths; a parameter first segment means every shard."""
    a, b, wild = routers()
    assert segments(a) == {"bundles", "v1"}
    assert segments(b) == {"v1", "scim"}
    assert segments(wild) == {ANY}
    assert first_segment("/v1/data/x") == "v1"
    assert first_segment("/{tenant}/x") == ANY
    assert sorted(build_shards([a, b, wild])) == ["bundles", "scim", "v1"]


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/bundles/t1", 200, {"bundle": "t1"}),
        ("GET", "/v1/a", 200, {"from": "a"}),
        ("POST", "/v1/b", 200, {"from": "b"}),
        ("GET", "/scim/v2/Users", 200, {"from": "scim"}),
        ("GET", "/v1/wild", 200, {"wild": "v1"}),
        ("GET", "/other/wild", 200, {"wild": "other"}),
        ("GET", "/v1/b", 405, None),
        ("GET", "/v1/nothing", 404, None),
        ("GET", "/nowhere", 404, None),
    ],
)
async def test_same_answers_as_fastapi(
    client: httpx.AsyncClient, method: str, path: str, status: int, body: object
) -> None:
    """Matches, 404s and 405s are FastAPI's, with or without shards."""
    response = await client.request(method, path)
    assert response.status_code == status
    if body is not None:
        assert response.json() == body


async def test_docs_still_served(client: httpx.AsyncClient) -> None:
    """Routes of the app itself (OpenAPI) fall through to the app's router."""
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "/v1/b" in response.json()["paths"]


async def test_sharded_requests_bypass_the_app_router() -> None:
    """With shards, a request under a known segment never walks the app's own route list."""
    app = app_for(shard=True)
    app.router.routes.clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/v1/a")).json() == {"from": "a"}
        assert (await c.get("/openapi.json")).status_code == 404
