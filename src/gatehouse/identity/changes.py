"""One way to record a change: a version row, an outbox event and an audit entry, together."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.events.service import emit
from gatehouse.identity.models import RecordVersion


async def record_change(
    session: AsyncSession,
    actor: Actor,
    event: str,
    record_id: str,
    version: int,
    *,
    source: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Write the version, the event and the audit entry in the caller's transaction.

    The record type is the event's first word: `identity.updated` changes an identity.
    """
    tenant = actor.tenant_id
    record_type = event.split(".", 1)[0]
    version_row = RecordVersion(
        tenant_id=tenant,
        record_type=record_type,
        record_id=record_id,
        version=version,
        actor=actor.actor,
        source=source,
        before=before,
        after=after,
    )
    session.add(version_row)
    payload: dict[str, Any] = {"id": record_id, "version": version, "source": source}
    if after is not None:
        payload["after"] = after
    emit(session, tenant, event, record_type, record_id, payload)
    # The audit chain cannot be edited, so it names the fields that changed, never their
    # values: personal data lives in versions and events, which a purge can erase.
    fields = sorted(changed_fields(before or {}, after or {}) or (before or after or {}))
    await audit.record(
        session, actor, event, record_type, record_id, after={"version": version, "fields": fields}
    )


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields whose value differs, with their new values."""
    return {k: v for k, v in after.items() if before.get(k) != v}
