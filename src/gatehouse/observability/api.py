"""Liveness, readiness and Prometheus routes (no token needed for health and readiness)."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.kit.http import problems
from gatehouse.services import Services

CHECK_TIMEOUT = 2.0


async def _check(name: str, probe: Any) -> tuple[str, dict[str, str]]:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT)
    except Exception as exc:
        return name, {"status": "down", "error": type(exc).__name__}
    return name, {"status": "ok"}


def build_router(svc: Services) -> APIRouter:
    """/health, /ready and /metrics."""
    router = APIRouter(tags=["health"])
    MetricsReader = Annotated[Principal, Depends(authenticator(svc, "platform:metrics"))]

    @router.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    async def database() -> None:
        async with svc.read() as session:
            await session.execute(text("SELECT 1"))

    async def redis() -> None:
        if not await svc.limiter.check():
            raise ConnectionError("redis did not answer")

    @router.get(
        "/ready",
        responses={
            503: {
                "description": "A dependency is down: `checks` names it.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def ready() -> JSONResponse:
        """Readiness: the database (and Redis, when configured) answer."""
        probes = [_check("database", database)]
        if svc.settings.redis_url:
            probes.append(_check("redis", redis))
        checks = dict(await asyncio.gather(*probes))
        if (cache := await svc.decision_cache.check()) is not None:
            checks["decision_cache"] = cache  # `degraded` while decisions bypass it
        ok = all(c["status"] == "ok" for c in checks.values())
        body = {"status": "ok" if ok else "degraded", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", response_class=Response, responses=problems())
    async def metrics(who: MetricsReader) -> Response:
        """Prometheus metrics (needs a platform token with `platform:metrics`)."""
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
