"""Helpers shared by CLI commands: settings, errors, the database, the CLI's audit actor."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.exc import DBAPIError

from gatehouse.audit.context import Actor
from gatehouse.config import ConfigError, Settings, load_settings
from gatehouse.db.engine import Database
from gatehouse.kit.problems import Problem
from gatehouse.observability.logging import configure

T = TypeVar("T")
console = Console()
errors = Console(stderr=True)


def table(*headers: str, rows: Iterable[Sequence[str]], keep: Sequence[str] = ("id",)) -> Table:
    """A table whose `keep` columns (ids) are never cut short: the other columns fold instead.

    Rich shrinks every column of a table wider than the terminal, ids included; an id cut to
    `01a2…` cannot be copied into `token revoke`, so those columns keep their longest value.
    """
    shown = [list(row) for row in rows]
    columns = []
    for index, header in enumerate(headers):
        if header in keep:
            widest = max((len(row[index]) for row in shown), default=0)
            columns.append(Column(header, no_wrap=True, min_width=max(widest, len(header))))
        else:
            columns.append(Column(header, overflow="fold"))
    out = Table(*columns)
    for row in shown:
        out.add_row(*row)
    return out


def counts_table(title: str | None, counts: dict[str, dict[str, int]]) -> Table:
    """A run's counters: a row per kind, a column per counter."""
    out = Table(title=title)
    names = list(dict.fromkeys(name for values in counts.values() for name in values))
    out.add_column("kind")
    for name in names:
        out.add_column(name, justify="right")
    for kind, values in counts.items():
        out.add_row(kind, *(str(values.get(name, 0)) for name in names))
    return out


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error and exit."""
    errors.print("[bold red]error:[/] ", end="")
    errors.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings() -> Settings:
    """Load settings (or exit with the message naming the wrong variable) and set up logging.

    A command's log lines go to stderr, above any progress display: warnings and errors only and
    readable in a terminal, unless GATEHOUSE_LOG_LEVEL or GATEHOUSE_LOG_JSON say otherwise.
    """
    try:
        cfg = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    given = cfg.model_fields_set
    configure(
        cfg.log_level if "log_level" in given else "WARNING",
        cfg.log_json if "log_json" in given else False,
    )
    return cfg


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning known errors into clear messages."""
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        fail(str(exc))
    except Problem as exc:
        fail(described(exc))
    except DBAPIError as exc:  # not a 400-line traceback: what failed, and the likely fix
        fail(
            f"the database refused the command: {str(exc.orig).splitlines()[0]} (after an "
            "upgrade of Gatehouse, run `gatehouse db upgrade`)"
        )


def described(problem: Problem) -> str:
    """A problem's detail and, one a line, each error it lists (the API's `errors`)."""
    listed = problem.extra.get("errors")
    if not isinstance(listed, list) or not listed:
        return problem.detail
    lines = [problem.detail.replace("; see errors", "")]
    for error in listed:
        if isinstance(error, dict):
            where = error.get("field") or error.get("path") or error.get("loc") or ""
            message = error.get("message") or error.get("msg") or error
            lines.append(f"  {where}: {message}" if where else f"  {message}")
        else:
            lines.append(f"  {error}")
    return "\n".join(lines)


def cli_actor(tenant_id: str) -> Actor:
    """How the CLI's user appears in the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(tenant_id=tenant_id, actor=f"cli:{user}", user_agent="gatehouse-cli")


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for another database or an in-memory one)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def no_state(cfg: Settings) -> str:
    """The one-line answer for a command run where there is no Gatehouse state."""
    where = "GATEHOUSE_DATABASE_URL" if cfg.database_url else f"{cfg.home.resolve()}"
    return (
        f"no Gatehouse state here ({where} has no Gatehouse database): run this from the "
        "directory that holds var/, or set GATEHOUSE_HOME (`gatehouse serve` or "
        "`gatehouse db upgrade` creates one)"
    )


@asynccontextmanager
async def database(
    cfg: Settings, *, create: bool = False, migrated: bool = True
) -> AsyncIterator[Database]:
    """The configured database, disposed afterwards.

    Unless `create`, a SQLite file that does not exist is never made: the command fails in one
    line instead. Unless `migrated` is False, a database without Gatehouse's schema fails too.
    """
    file = sqlite_file(cfg.effective_database_url)
    if not create and file is not None and not file.exists():
        fail(no_state(cfg))
    db = Database(cfg.effective_database_url)
    try:
        if migrated and not create and not await _has_schema(db):
            fail(no_state(cfg))
        yield db
    finally:
        await db.dispose()


async def _has_schema(db: Database) -> bool:
    try:
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT version_num FROM alembic_version")
    except DBAPIError:
        return False
    return True


async def announce_access_change(cfg: Settings) -> None:
    """Tell running servers (through Redis, when configured) to drop cached tokens now."""
    if cfg.redis_url:
        from gatehouse.auth.cache import PrincipalCache  # only here: most commands never
        from gatehouse.kit.redisconn import redis_client  # need Redis

        cache = PrincipalCache(0, redis_client(cfg.redis_url))
        await cache.invalidate()
        await cache.close()
