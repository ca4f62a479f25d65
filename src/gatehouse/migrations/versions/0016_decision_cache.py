"""decision cache: per-tenant cache settings and alert thresholds beside the decision settings

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("decision_data") as batch:
        batch.add_column(sa.Column("cache", JSON, nullable=True))
        batch.add_column(sa.Column("alerts", JSON, nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("decision_data") as batch:
        batch.drop_column("alerts")
        batch.drop_column("cache")
