"""Migrations upgrade and downgrade on SQLite and PostgreSQL, and match the models."""

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gatehouse.db import migrate
from gatehouse.db.engine import Database
from gatehouse.db.models import Base
from tests.conftest import BOTH

pytestmark = BOTH


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_down_and_up_again(database_url: str) -> None:
    """Downgrade to base removes every table; upgrade to head restores them."""
    db = Database(database_url)
    try:
        assert await migrate.current(db.engine) == migrate.head()
        await migrate.downgrade(db.engine, "base")
        assert await migrate.current(db.engine) is None
        assert await _tables(db) - {"alembic_version"} == set()
        await migrate.upgrade(db.engine)
        assert await migrate.current(db.engine) == migrate.head()
        assert {t.name for t in Base.metadata.sorted_tables} <= await _tables(db)
    finally:
        await db.dispose()


async def test_models_match_migrations(database_url: str) -> None:
    """Autogenerate finds nothing to add: the migrations describe the models exactly."""
    db = Database(database_url)

    def diff(conn: Any) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with db.engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await db.dispose()
    assert changes == []


async def test_app_refuses_an_unmigrated_database(database_url: str, settings: Any) -> None:
    """Starting on an old schema says which command to run."""
    from gatehouse.config import ConfigError
    from tests.conftest import started

    db = Database(database_url)
    await migrate.downgrade(db.engine, "base")
    await db.dispose()
    with pytest.raises(ConfigError, match="gatehouse db upgrade"):
        async with started(settings):
            pass
