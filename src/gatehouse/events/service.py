"""Append to and read the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.repository import TenantRepository
from gatehouse.events.catalog import require
from gatehouse.events.models import Event


class EventRepository(TenantRepository[Event]):
    """One tenant's events."""

    model = Event


def emit(
    session: AsyncSession,
    tenant_id: str,
    type_: str,
    subject_type: str,
    subject_id: str,
    payload: dict[str, Any],
) -> Event:
    """Stage an event in the caller's transaction: it commits or rolls back with the change."""
    return EventRepository(session, tenant_id).add(
        Event(
            type=require(type_), subject_type=subject_type, subject_id=subject_id, payload=payload
        )
    )


async def after(
    session: AsyncSession, tenant_id: str, cursor: int | None, limit: int
) -> Sequence[Event]:
    """Events after a position, oldest first."""
    repo = EventRepository(session, tenant_id)
    return await repo.page(repo.select(), cursor, limit)
