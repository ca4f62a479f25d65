"""Fixtures: real SQLite and PostgreSQL databases, a running app, and object factories."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from gatehouse.app import create_app
from gatehouse.config import Settings, Tier
from gatehouse.db import migrate
from gatehouse.db.engine import Database
from gatehouse.db.models import Base
from gatehouse.observability.logging import configure
from gatehouse.services import Services
from tests.factories import make_tenant, make_token

# Property tests check behaviour, never speed: a loaded CI machine must not fail them.
hypothesis.settings.register_profile("gatehouse", deadline=None)
hypothesis.settings.load_profile("gatehouse")

REQUIRE = os.environ.get("GATEHOUSE_REQUIRE_SERVICES") == "1"
PG_ADMIN = os.environ.get("GATEHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("GATEHOUSE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def service_missing(name: str, reason: str) -> None:
    """Skip when a service is absent, or fail when CI requires it."""
    message = f"{name} not available: {reason}"
    if REQUIRE:
        pytest.fail(message + " (GATEHOUSE_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def reachable(host: str, port: int) -> bool:
    """Whether a TCP port answers."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def worker_id() -> str:
    """The xdist worker name, or `main`."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def in_thread(coro: Any) -> Any:
    """Run a coroutine to completion on a private loop in another thread."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0] if result else None


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database for this test worker, migrated to head once."""
    name = f"gatehouse_test_{worker_id()}_{os.getpid()}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_missing("PostgreSQL", str(exc))
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"

    async def upgrade() -> None:
        db = Database(url)
        await migrate.upgrade(db.engine)
        await db.dispose()

    in_thread(upgrade())
    yield url
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test."""
    path = tmp_path_factory.mktemp("template") / "gatehouse.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(db.engine)
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    await db.dispose()
    return path


async def truncate_all(url: str) -> None:
    """Bring a PostgreSQL test database to head (a test may have downgraded it) and empty it."""
    db = Database(url)
    if await migrate.current(db.engine) != migrate.head():
        await migrate.upgrade(db.engine)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await db.dispose()


BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


def worker_process(
    settings: Settings, *, stderr: Any = None, **env: str
) -> subprocess.Popen[bytes]:
    """`gatehouse worker` on the test's home and database, with `env` (GATEHOUSE_* values) added
    (and its stderr sent to `stderr`, a file, when given)."""
    values = {
        **os.environ,
        "GATEHOUSE_HOME": str(settings.home),
        "GATEHOUSE_DATABASE_URL": settings.effective_database_url,
        "GATEHOUSE_LOG_LEVEL": "WARNING",
        **env,
    }
    cli = Path(sys.executable).with_name("gatehouse")
    return subprocess.Popen(
        [str(cli), "worker"], env=values, stdout=subprocess.DEVNULL, stderr=stderr
    )


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind: SQLite, unless a test is parametrized with BOTH."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def database_url(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, sqlite_template: Path
) -> str:
    """A migrated, empty database of the test's backend."""
    if backend == "postgres":
        url = str(request.getfixturevalue("pg_database"))
        await truncate_all(url)
        return url
    target = tmp_path / "home" / "gatehouse.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for one test: its own home directory and database."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        usage_flush_seconds=0.05,
        worker_in_process=False,  # tests run workers where they test them
        # In process: each child costs a spawn per app; tests/decisions/test_isolated.py and
        # test_runaway.py test the default (child processes), against a real server too.
        decisions_processes=0,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def redis_url() -> str:
    """The local Redis, flushed, or skip/fail when it is absent."""
    if not reachable("127.0.0.1", 6379):
        service_missing("Redis", "127.0.0.1:6379 refused")
    return REDIS_URL


@dataclass
class Harness:
    """A started app with a client and the services behind it."""

    app: FastAPI
    client: httpx.AsyncClient
    svc: Services

    async def tenant(self, tenant_id: str, tier: Tier = Tier.pro) -> str:
        """Create a tenant."""
        return await make_tenant(self.svc, tenant_id, tier)

    async def token(self, tenant_id: str, *scopes: str, **extra: Any) -> str:
        """Create a token and return its secret."""
        return await make_token(self.svc, tenant_id, list(scopes), **extra)

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        """The Authorization header for a token."""
        return {"Authorization": f"Bearer {token}"}

    async def flush_usage(self) -> None:
        """Write buffered usage records now."""
        await self.svc.usage.flush()


class started:  # noqa: N801 (used like a function)
    """Start an app's lifespan and give an ASGI client for it."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings, configure_logging=False)
        self._ctx: Any = None
        self.client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Harness:
        self._ctx = self.app.router.lifespan_context(self.app)
        await self._ctx.__aenter__()
        transport = httpx.ASGITransport(
            app=self.app, client=("198.51.100.7", 4242), raise_app_exceptions=False
        )
        self.client = httpx.AsyncClient(transport=transport, base_url="http://gatehouse.test")
        return Harness(self.app, self.client, self.app.state.services)

    async def __aexit__(self, *exc: object) -> None:
        assert self.client is not None
        await self.client.aclose()
        await self._ctx.__aexit__(None, None, None)


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    """A started app on the test's database."""
    async with started(settings) as h:
        yield h


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """JSON log lines (DEBUG and up) captured into a buffer."""
    buffer = io.StringIO()
    configure("DEBUG", json=True, stream=buffer)
    yield buffer
    logging.getLogger().handlers.clear()
