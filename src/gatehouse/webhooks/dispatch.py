"""The dispatcher: turns committed outbox events into one delivery per subscribed endpoint.

It keeps a cursor on the outbox id. On PostgreSQL ids are handed out before commit, so a
transaction still open may later commit an id below ones already visible: the dispatcher
stops at such a gap until no transaction that could hold it remains open (or, where that is
not visible, until the gap is `gap_seconds` old). SQLite serialises writers and reuses the
id of a rolled-back insert, so its outbox has no such gaps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.base import utcnow
from gatehouse.db.engine import Database
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.db.upsert import insert_ignore
from gatehouse.events.models import Event
from gatehouse.kit.ids import new_id
from gatehouse.webhooks import catalog
from gatehouse.webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint

CURSOR = "outbox"
OUTBOX = cast(Table, Event.__table__)
DELIVERIES = cast(Table, WebhookDelivery.__table__)
OPEN_TRANSACTIONS = text(
    "SELECT clock_timestamp(), (SELECT min(xact_start) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL)"
)


def envelope(event_type: str, data: dict[str, Any], at: datetime, **extra: Any) -> dict[str, Any]:
    """The Standard Webhooks message body: `type`, `timestamp`, `data`."""
    return {"type": event_type, "timestamp": at.isoformat(), "data": data, **extra}


def message(event: Event | Row[Any]) -> dict[str, Any]:
    """The body sent for one outbox event."""
    subject = {"type": event.subject_type, "id": event.subject_id}
    return envelope(event.type, event.payload, event.created_at, event_id=event.id, subject=subject)


class Dispatcher:
    """Moves the outbox cursor forward, creating deliveries as it goes."""

    def __init__(self, db: Database, gap_seconds: float, batch: int = 1000) -> None:
        self.db, self.gap, self.batch = db, timedelta(seconds=gap_seconds), batch
        self.gap_seen: dict[int, datetime] = {}  # first id after a gap -> when first seen

    async def run_once(self, now: datetime) -> int:
        """Dispatch one batch of events; how many events were taken."""
        if not await self._behind():
            return 0
        async with self.db.transaction() as session:
            cursor = await self._cursor(session)
            stmt = (
                select(*OUTBOX.c)
                .where(OUTBOX.c.id > cursor.position)
                .order_by(OUTBOX.c.id)
                .limit(self.batch)
                .execution_options(**{ALL_TENANTS: True})
            )
            events = (await session.execute(stmt)).all()
            taken = await self._contiguous(session, cursor.position, events)
            if not taken:
                return 0
            await self._deliveries(session, taken, now)
            cursor.position = taken[-1].id
            return len(taken)

    async def _behind(self) -> bool:
        """Whether the outbox holds events past the cursor (a read: idle costs no write lock)."""
        async with self.db.transaction(write=False) as session:
            stmt = select(WebhookCursor.position).where(WebhookCursor.name == CURSOR)
            position = (await session.execute(stmt)).scalar()
            if position is None:
                return True
            newer = (
                select(Event.id)
                .where(Event.id > position)
                .limit(1)
                .execution_options(**{ALL_TENANTS: True})
            )
            return (await session.execute(newer)).first() is not None

    async def _cursor(self, session: AsyncSession) -> WebhookCursor:
        # The migration starts the cursor; a table emptied since starts from the top.
        await insert_ignore(session, WebhookCursor, name=CURSOR, position=0, updated_at=utcnow())
        stmt = select(WebhookCursor).where(WebhookCursor.name == CURSOR)
        if not self.db.is_sqlite:  # one dispatcher at a time; SQLite serialises writers
            stmt = stmt.with_for_update()
        return (await session.execute(stmt)).scalar_one()

    async def _contiguous(
        self, session: AsyncSession, position: int, events: Sequence[Row[Any]]
    ) -> list[Row[Any]]:
        taken: list[Row[Any]] = []
        for event in events:
            expected = (taken[-1].id if taken else position) + 1
            if event.id != expected and not await self._gap_closed(session, event):
                break
            self.gap_seen.pop(event.id, None)
            taken.append(event)
        return taken

    async def _gap_closed(self, session: AsyncSession, after: Row[Any]) -> bool:
        """Whether the ids missing before `after` can no longer commit (times: the database's)."""
        if self.db.is_sqlite:
            return True
        now, oldest = (await session.execute(OPEN_TRANSACTIONS)).one()
        seen = self.gap_seen.get(after.id)
        if seen is None:  # first sight: whatever is open now may hold the missing ids
            self.gap_seen[after.id] = now
            return False
        return now - seen >= self.gap or oldest is None or oldest > seen

    async def _deliveries(
        self, session: AsyncSession, events: Sequence[Row[Any]], now: datetime
    ) -> int:
        """One delivery per event and subscribed endpoint, inserted in one statement."""
        tenants = {e.tenant_id for e in events}
        stmt = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id.in_(tenants), WebhookEndpoint.enabled.is_(True))
            .execution_options(**{ALL_TENANTS: True})
        )
        endpoints: dict[str, list[WebhookEndpoint]] = defaultdict(list)
        for endpoint in (await session.execute(stmt)).scalars():
            endpoints[endpoint.tenant_id].append(endpoint)
        created = utcnow()
        rows = [
            {
                "id": new_id(),
                "tenant_id": event.tenant_id,
                "endpoint_id": endpoint.id,
                "event_id": event.id,
                "event_type": event.type,
                "ordered": endpoint.ordered,
                "body": message(event),
                "status": "pending",
                "attempts": 0,
                "due_at": now,
                "created_at": created,
            }
            for event in events
            for endpoint in endpoints.get(event.tenant_id, ())
            if catalog.matches(endpoint.event_types, event.type)
            and event.created_at >= endpoint.created_at
        ]
        if rows:
            await session.execute(insert(DELIVERIES), rows)
        return len(rows)
