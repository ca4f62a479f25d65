"""create_app(settings): the one place where Gatehouse is put together."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from gatehouse import __version__
from gatehouse.audit import api as audit_api
from gatehouse.auth import api as tokens_api
from gatehouse.auth.cache import PrincipalCache
from gatehouse.auth.usage import UsageRecorder
from gatehouse.config import ConfigError, Settings
from gatehouse.conflicts import api as conflicts_api
from gatehouse.connections import api as connections_api
from gatehouse.db import migrate
from gatehouse.db.engine import Database
from gatehouse.decisions import api as decisions_api
from gatehouse.decisions import opa
from gatehouse.decisions.authzen import api as authzen_api
from gatehouse.decisions.authzen import errors as authzen_errors
from gatehouse.decisions.monitor import api as monitor_api
from gatehouse.decisions.routing import api as routing_api
from gatehouse.distribution import api as distribution_api
from gatehouse.fleet import api as fleet_api
from gatehouse.fleet.api import LOGS_PATH, STATUS_PATH
from gatehouse.fleet.retention import run as decision_retention
from gatehouse.identity import api as identity_api
from gatehouse.imports import api as imports_api
from gatehouse.imports.form import IMPORT_PATH, body_limit
from gatehouse.kit.apidocs import install_docs
from gatehouse.kit.boundary import InputBoundary
from gatehouse.kit.openapi import install_openapi
from gatehouse.kit.problem_http import install_problem_handlers
from gatehouse.kit.redisconn import redis_client
from gatehouse.kit.shards import dispatch
from gatehouse.observability import api as health_api
from gatehouse.observability.logging import configure
from gatehouse.observability.middleware import RequestMiddleware
from gatehouse.opal import api as opal_api
from gatehouse.ratelimit.limiter import RateLimiter
from gatehouse.scim import api as scim_api
from gatehouse.scim import errors as scim_errors
from gatehouse.scim import openapi as scim_openapi
from gatehouse.scim.http import PREFIX as SCIM_PREFIX
from gatehouse.secrets import api as secrets_api
from gatehouse.secrets.keyring import load_keyring
from gatehouse.services import Services
from gatehouse.sync import api as sync_api
from gatehouse.sync.tasks import start_worker
from gatehouse.tenants import api as tenants_api
from gatehouse.webhooks import api as webhooks_api

log = structlog.get_logger("gatehouse")
GC_YOUNG_THRESHOLD = 20_000

DESCRIPTION = """
Gatehouse gathers the facts authorization policies need, keeps them fresh, secured and
audited, and serves them to policy engines.

Every route except `/health`, `/ready`, `/.well-known/authzen-configuration` and these docs
needs an API token: `Authorization: Bearer gth_...`. Errors are `application/problem+json`
(RFC 9457), except on routes that speak another standard (SCIM, OPA, AuthZEN).
Responses to authenticated requests carry `RateLimit-Policy` and `RateLimit` headers.
"""


async def open_services(svc: Services) -> None:
    """Check the schema is current and open the key ring."""
    current = await migrate.current(svc.db.engine)
    if current != migrate.head():
        raise ConfigError(
            f"database schema is at {current or 'nothing'}, this Gatehouse needs "
            f"{migrate.head()}: run `gatehouse db upgrade`"
        )
    async with svc.db.transaction() as session:
        svc.keyring = await load_keyring(session, svc.settings)


def build_services(settings: Settings) -> Services:
    """The long-lived parts for these settings (nothing is opened yet)."""
    db = Database(settings.effective_database_url)
    redis = redis_client(settings.redis_url) if settings.redis_url else None
    return Services(
        settings=settings,
        db=db,
        limiter=RateLimiter(settings.redis_url),
        usage=UsageRecorder(db, settings.usage_flush_seconds),
        principals=PrincipalCache(settings.token_cache_seconds, redis),
    )


def create_app(settings: Settings, *, configure_logging: bool = True) -> FastAPI:
    """Build the FastAPI application for these settings."""
    if configure_logging:
        configure(settings.log_level, settings.log_json)
    svc = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await open_services(svc)
        svc.usage.start()
        svc.decision_log.start()
        svc.engines.start()  # the evaluator children, warm before the first decision
        # Everything built so far lives as long as the process: keep it out of GC scans.
        gc.collect()
        gc.freeze()
        # Requests allocate many short-lived objects; collect young ones less often.
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
        log.info("gatehouse started", database=svc.db.engine.url.get_backend_name())
        worker = start_worker(svc) if settings.worker_in_process else None
        stop_distribution = asyncio.Event()
        distribution = asyncio.create_task(svc.distribution.run(stop_distribution))
        # Tenants' remote OPA routing follows configuration changes made elsewhere.
        routing = asyncio.create_task(svc.decision_router.run(stop_distribution))
        retention = asyncio.create_task(
            decision_retention(
                svc.db,
                settings.decision_log_retention_days,
                settings.decision_log_purge_seconds,
                stop_distribution,
            )
        )
        opal = asyncio.create_task(svc.opal.run(stop_distribution))
        webhooks = (
            asyncio.create_task(svc.webhooks.run(stop_distribution))
            if settings.webhooks_worker
            else None
        )
        alerts = asyncio.create_task(svc.alerts.run(stop_distribution))
        try:
            yield
        finally:
            stop_distribution.set()
            await routing
            await svc.decision_router.close()
            svc.distribution.wake.set()
            svc.opal.wake.set()
            await distribution
            await retention
            await opal
            svc.webhooks.wake.set()
            if webhooks is not None:
                await webhooks
            await svc.webhooks.close()
            await alerts
            await svc.decision_cache.close()
            await svc.engines.stop()
            await svc.decision_log.stop()
            if worker is not None:
                await worker.stop()
            await svc.usage.stop()
            await svc.principals.close()
            await svc.db.dispose()

    app = FastAPI(
        title="Gatehouse",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # kit/apidocs.py serves /docs and /redoc from packaged assets
        redoc_url=None,
        # FastAPI's own OpenTelemetry instrumentation asks, on every request, whether a
        # provider is configured; Gatehouse has its own metrics and request logs.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = svc
    dialects = {SCIM_PREFIX: scim_errors.render}
    dialects.update({prefix: opa.render for prefix in decisions_api.PREFIXES})
    dialects.update({prefix: authzen_errors.render for prefix in authzen_api.PREFIXES})
    install_problem_handlers(app, dialects=dialects)
    shapes = {SCIM_PREFIX: scim_openapi.SHAPE}
    shapes.update({prefix: opa.SHAPE for prefix in decisions_api.PREFIXES})
    shapes.update({prefix: authzen_errors.SHAPE for prefix in authzen_api.PREFIXES})
    install_openapi(app, shapes)
    install_docs(app)
    # Within a first-segment shard (kit/shards.py) FastAPI matches routers in order and each
    # route it passes costs time: /health (probed constantly, and the baseline of
    # bench/api_overhead.py) first, then the busiest API routers.
    routers = (
        health_api,
        decisions_api,
        authzen_api,
        tokens_api,
        scim_api,
        identity_api,
        conflicts_api,
        tenants_api,
        audit_api,
        secrets_api,
        connections_api,
        sync_api,
        imports_api,
        distribution_api,
        fleet_api,
        opal_api,
        routing_api,
        webhooks_api,
        monitor_api,
    )
    built = [module.build_router(svc) for module in routers]
    for router in built:
        app.include_router(router)
    dispatch(app, built)
    upload_limit, upload_hint = body_limit(settings.import_max_bytes)
    # Inside RequestMiddleware, so the body limits apply while the boundary reads a body.
    app.add_middleware(InputBoundary)
    app.add_middleware(
        RequestMiddleware,
        metrics=svc.metrics,
        usage=svc.usage,
        max_body=settings.max_body_bytes,
        path_limits={
            f"{SCIM_PREFIX}/Bulk": settings.scim_bulk_max_payload_bytes,
            IMPORT_PATH: upload_limit,
            LOGS_PATH: settings.decision_log_max_bytes,
            STATUS_PATH: settings.opa_status_max_bytes,
        },
        limit_hints={IMPORT_PATH: upload_hint},
    )
    return app
