"""Request ids, timing, body limits, problem+json errors, readiness, metrics, logs and docs."""

import io
import json
import re
from collections.abc import AsyncIterator

from gatehouse.config import Settings, Tier
from gatehouse.tenants.models import PLATFORM
from tests.conftest import Harness, started


async def test_request_id_echoed_generated_or_replaced(harness: Harness) -> None:
    """A valid X-Request-ID is echoed; none or an invalid one gets a fresh id."""
    c = harness.client
    echoed = await c.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    fresh = await c.get("/health")
    assert len(fresh.headers["x-request-id"]) == 32
    hostile = await c.get("/health", headers={"X-Request-ID": "x<script>" + "y" * 300})
    assert hostile.headers["x-request-id"] != "x<script>" + "y" * 300
    assert fresh.headers["x-process-time"].endswith("ms")


async def test_oversized_bodies_get_413(settings: Settings) -> None:
    """A declared or streamed body over the limit is refused with problem+json."""
    small = settings.model_copy(update={"max_body_bytes": 2048})
    async with started(small) as h:
        await h.tenant("acme")
        auth = h.auth(await h.token("acme", "admin:*"))
        big = {"name": "x" * 5000, "scopes": ["audit:read"]}
        resp = await h.client.post("/v1/integration/tokens", json=big, headers=auth)
        assert resp.status_code == 413
        assert resp.headers["content-type"] == "application/problem+json"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 1000

        streamed = await h.client.post(
            "/v1/integration/tokens",
            content=chunks(),
            headers={**auth, "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413


async def test_malformed_json_and_unknown_routes(harness: Harness) -> None:
    """Broken JSON is 400, unknown routes 404, wrong methods 405: all problem+json."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "admin:*"))
    c = harness.client
    broken = await c.post(
        "/v1/integration/tokens",
        content=b'{"name": ',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["title"] == "Bad Request"
    for resp, status in [
        (await c.get("/nowhere"), 404),
        (await c.put("/health"), 405),
    ]:
        assert resp.status_code == status
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["status"] == status


async def test_unexpected_errors_hide_the_trace(harness: Harness) -> None:
    """A crash is a 500 problem without stack trace or exception text."""

    async def boom() -> None:
        raise RuntimeError("internal detail /etc/passwd")

    harness.app.add_api_route("/boom", boom)
    transport_client = harness.client
    resp = await transport_client.get("/boom")
    assert resp.status_code == 500
    assert "Traceback" not in resp.text
    assert "passwd" not in resp.text
    assert resp.json()["title"] == "Internal Server Error"


async def test_redis_outage_degrades_readiness_not_requests(settings: Settings) -> None:
    """An unreachable Redis makes /ready answer 503, while requests are still limited in-process."""
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with started(broken) as h:
        await h.tenant("acme", Tier.free)
        auth = h.auth(await h.token("acme", "tokens:read", rate_limit_per_minute=2))
        statuses = [
            (await h.client.get("/v1/integration/tokens/scopes", headers=auth)).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        resp = await h.client.get("/ready")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"]["status"] == "down"


async def test_metrics_need_a_token(harness: Harness) -> None:
    """Prometheus text with request counts, for platform tokens with platform:metrics only."""
    await harness.tenant("acme")
    assert (await harness.client.get("/metrics")).status_code == 401
    tenant_admin = harness.auth(await harness.token("acme", "admin:*"))
    assert (await harness.client.get("/metrics", headers=tenant_admin)).status_code == 403
    auth = harness.auth(await harness.token(PLATFORM, "platform:metrics"))
    await harness.client.get("/health")
    resp = await harness.client.get("/metrics", headers=auth)
    assert resp.status_code == 200
    assert 'gatehouse_http_requests_total{method="GET",route="/health",status="200"}' in resp.text
    assert "gatehouse_http_request_duration_seconds_bucket" in resp.text


async def test_docs_are_public_and_every_route_is_described(harness: Harness) -> None:
    """/docs, /redoc and /openapi.json need no token; every operation has a summary and text."""
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await harness.client.get(path)).status_code == 200
    spec = (await harness.client.get("/openapi.json")).json()
    operations = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    assert len(operations) >= 15
    for path, method, op in operations:
        assert op.get("summary"), (path, method)
        assert op.get("description"), (path, method)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


async def test_docs_load_nothing_from_outside(harness: Harness) -> None:
    """Swagger UI and ReDoc come from the package: no CDN, so an air-gapped host shows them."""
    for path in ("/docs", "/redoc"):
        page = (await harness.client.get(path)).text
        assert "https://" not in page and "http://" not in page, page
        for asset in re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page):
            resp = await harness.client.get(asset)
            assert resp.status_code == 200 and len(resp.content) > 1000, asset
    assert "/docs/static/swagger-ui-bundle.js" in (await harness.client.get("/docs")).text
    assert "/docs/static/redoc.standalone.js" in (await harness.client.get("/redoc")).text


async def test_json_logs_carry_request_id_and_tenant(
    harness: Harness, log_lines: io.StringIO
) -> None:
    """Each access log line is JSON with the request id and tenant."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "tokens:read"))
    await harness.client.get("/v1/integration/tokens", headers={**auth, "X-Request-ID": "trace-me"})
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    access = [line for line in lines if line.get("request_id") == "trace-me"]
    assert access
    assert access[-1]["tenant"] == "acme"
    assert access[-1]["status"] == 200
    assert access[-1]["path"] == "/v1/integration/tokens"
