"""opal: topics are the tenant's own; webhooks: recorded attempts keep custom header names only

OPAL settings stored with a shared topic (the former default `["policy_data",
"gatehouse:{tenant}"]`, or any topic that is not `gatehouse:{tenant}[:<name>]`) would hand one
tenant's updates to another tenant's OPAL clients: their topics become the tenant's own topic
(the first of them that already is, else `gatehouse:{tenant}`). Recorded webhook attempts kept
custom header values in plain JSON: every value but Gatehouse's own headers is masked. Nothing
of either can be restored, so the downgrade changes nothing.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 20:00:00
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
SETTINGS = sa.table("opal_settings", sa.column("tenant_id", sa.String()), sa.column("config", JSON))
ATTEMPTS = sa.table(
    "webhook_attempts", sa.column("id", sa.String()), sa.column("request_headers", JSON)
)
TOPIC = re.compile(r"^gatehouse:\{tenant\}(:[A-Za-z0-9_.-]{1,64})?$")  # opal.schemas.TOPIC
OWN = ("content-type", "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature")
MASK = "***"
BATCH = 1000


def _own_topics(config: dict[str, Any]) -> dict[str, Any]:
    topics = [t for t in config.get("topics") or [] if isinstance(t, str) and TOPIC.match(t)]
    return {**config, "topics": topics[:1] or ["gatehouse:{tenant}"]}


def _masked(headers: dict[str, Any]) -> dict[str, Any]:
    return {k: v if k.lower() in OWN else MASK for k, v in headers.items()}


def upgrade() -> None:
    """Apply this revision."""
    bind = op.get_bind()
    for tenant, config in bind.execute(sa.select(SETTINGS.c.tenant_id, SETTINGS.c.config)).all():
        fixed = _own_topics(config or {})
        if fixed != config:
            stmt = sa.update(SETTINGS).where(SETTINGS.c.tenant_id == tenant)
            bind.execute(stmt.values(config=fixed))
    last = ""
    while True:
        rows = bind.execute(
            sa.select(ATTEMPTS.c.id, ATTEMPTS.c.request_headers)
            .where(ATTEMPTS.c.id > last)
            .order_by(ATTEMPTS.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for attempt, headers in rows:
            masked = _masked(headers or {})
            if masked != headers:
                stmt = sa.update(ATTEMPTS).where(ATTEMPTS.c.id == attempt)
                bind.execute(stmt.values(request_headers=masked))
        last = rows[-1][0]


def downgrade() -> None:
    """Revert this revision: nothing to do (the shared topics and plain values are gone)."""
