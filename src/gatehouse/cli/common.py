"""Helpers shared by CLI commands: settings, errors, the database, the CLI's audit actor."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from gatehouse.audit.context import Actor
from gatehouse.auth.cache import PrincipalCache
from gatehouse.config import ConfigError, Settings, load_settings
from gatehouse.db.engine import Database
from gatehouse.kit.problems import Problem
from gatehouse.kit.redisconn import redis_client

T = TypeVar("T")
console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error and exit."""
    errors.print("[bold red]error:[/] ", end="")
    errors.print(message, markup=False, highlight=False)
    raise typer.Exit(code)


def settings() -> Settings:
    """Load settings or exit with the message naming the wrong variable."""
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning known errors into clear messages."""
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        fail(str(exc))
    except Problem as exc:
        fail(exc.detail)


def cli_actor(tenant_id: str) -> Actor:
    """How the CLI's user appears in the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(tenant_id=tenant_id, actor=f"cli:{user}", user_agent="gatehouse-cli")


@asynccontextmanager
async def database(cfg: Settings) -> AsyncIterator[Database]:
    """The configured database, disposed afterwards."""
    db = Database(cfg.effective_database_url)
    try:
        yield db
    finally:
        await db.dispose()


async def announce_access_change(cfg: Settings) -> None:
    """Tell running servers (through Redis, when configured) to drop cached tokens now."""
    if cfg.redis_url:
        cache = PrincipalCache(0, redis_client(cfg.redis_url))
        await cache.invalidate()
        await cache.close()
