"""risk factors

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:35:02.477905
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "risk_factors",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("risk_factors")
