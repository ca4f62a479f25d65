"""Reading the outbox in tests, and checking an event's data against its catalog schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.events.catalog import BY_NAME
from gatehouse.events.models import Event

FORMATS = Draft202012Validator.FORMAT_CHECKER


def validate(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """The data, after checking it against its type's schema (formats included)."""
    Draft202012Validator(BY_NAME[type_].schema, format_checker=FORMATS).validate(data)
    return data


async def events(db: Database, tenant: str, prefix: str = "") -> list[Event]:
    """The tenant's committed events whose type starts with `prefix`, oldest first."""
    async with db.transaction(write=False) as session:
        stmt = select(Event).where(Event.tenant_id == tenant, Event.type.startswith(prefix))
        rows = await session.execute(stmt.order_by(Event.id).execution_options(**{TENANT: tenant}))
        return list(rows.scalars())


async def payloads(db: Database, tenant: str, type_: str) -> list[dict[str, Any]]:
    """The data of the tenant's events of one type, oldest first, each checked on its schema."""
    return [validate(type_, e.payload) for e in await events(db, tenant, type_) if e.type == type_]


class Failed(Exception):
    """What fails the transaction of `rolled_back`."""


async def _fail(db: Database, work: Callable[[AsyncSession], Awaitable[object]]) -> None:
    async with db.transaction() as session:
        await work(session)
        raise Failed


async def rolled_back(db: Database, work: Callable[[AsyncSession], Awaitable[object]]) -> None:
    """Do `work` in a transaction that then fails, as a request failing after it would."""
    with pytest.raises(Failed):
        await _fail(db, work)
