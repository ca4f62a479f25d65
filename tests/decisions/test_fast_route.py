"""POST /v1/data's fast route answers exactly as the documented route does.

Plain requests (`?metrics=true` and the like) take the fast route; any other query string takes
FastAPI's route. Both must give the same answers, errors, headers and metrics.
"""

import pytest

from gatehouse.kit.fastpath import FastRouter
from tests.decisions.conftest import Api, opa_error

INPUT = {"input": {"action": "read", "subject": {"id": "alice"}}}


@pytest.mark.parametrize(
    ("query", "metrics"),
    [
        ("", False),
        ("?metrics=true", True),  # fast
        ("?metrics=1", True),  # FastAPI's boolean parsing
        ("?metrics=true&pretty=false", True),  # fast
        ("?metrics=true&metrics=false", False),  # repeated: FastAPI takes the last
        ("?pretty=on&metrics=yes", True),
    ],
)
async def test_plain_and_other_queries_answer_alike(api: Api, query: str, metrics: bool) -> None:
    """The decision, the metrics flag and the headers, whichever route answered."""
    resp = await api.post("authz/allow", INPUT, query=query)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["result"] is True
    assert ("metrics" in body) is metrics
    assert resp.headers["x-request-id"]
    assert resp.headers["ratelimit"].startswith('"tenant";r=')


async def test_bad_flag_values_are_refused_in_opas_shape(api: Api) -> None:
    """A flag that is not a boolean is refused (422, OPA's error body), not a fast-route guess."""
    resp = await api.post("authz/allow", INPUT, query="?metrics=maybe")
    assert "metrics" in opa_error(resp, 422)["message"]


async def test_fast_route_counts_under_the_documented_template(api: Api) -> None:
    """Metrics name the route template, as for any route."""
    metrics = api.h.svc.metrics
    before = metrics.requests.labels("POST", "/v1/data/{path:path}", "200")._value.get()
    await api.post("authz/allow", INPUT, query="?metrics=true")
    after = metrics.requests.labels("POST", "/v1/data/{path:path}", "200")._value.get()
    assert after == before + 1


async def test_fast_route_refuses_as_the_route_does(api: Api) -> None:
    """No token, a token without the scope, an unknown token: OPA's 401/403."""
    client = api.h.client
    assert opa_error(await client.post("/v1/data/authz/allow", json=INPUT), 401)
    bogus = {"Authorization": "Bearer gth_nope"}
    opa_error(await client.post("/v1/data/authz/allow", json=INPUT, headers=bogus), 401)
    opa_error(await api.post("authz/allow", INPUT, token=api.reader), 403)


def test_a_fast_route_needs_a_documented_route() -> None:
    """A fast endpoint cannot be added for a route that does not exist."""
    router = FastRouter()

    async def endpoint(request: object) -> None:
        return None

    with pytest.raises(LookupError):
        router.add_fast("POST", "/v1/nothing/{path:path}", endpoint)  # type: ignore[arg-type]
