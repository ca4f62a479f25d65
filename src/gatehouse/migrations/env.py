"""Alembic environment: runs migrations on the async engine Gatehouse is configured with."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from gatehouse.config import load_settings
from gatehouse.db.engine import make_engine
from gatehouse.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def run() -> None:
    """Run migrations on the given connection, or on the configured database."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or ""
    asyncio.run(_main(url or load_settings().effective_database_url))


run()
