"""Apply, revert and inspect schema migrations (Alembic) from code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import gatehouse.migrations
from gatehouse.config import Settings

SCRIPTS = str(Path(gatehouse.migrations.__file__).parent)


def alembic_config(
    connection: Connection | None = None, settings: Settings | None = None
) -> Config:
    """An Alembic config pointing at the bundled migrations; `settings` tell data migrations
    where the master key is (without them they read the environment)."""
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    config.attributes["connection"] = connection
    config.attributes["settings"] = settings
    return config


async def upgrade(
    engine: AsyncEngine, revision: str = "head", settings: Settings | None = None
) -> None:
    """Bring the schema up to `revision`."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c, settings), revision))


async def downgrade(engine: AsyncEngine, revision: str, settings: Settings | None = None) -> None:
    """Take the schema down to `revision` ("base" removes every table)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c, settings), revision))


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it has none."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def head() -> str | None:
    """The newest revision shipped with this version of Gatehouse."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
