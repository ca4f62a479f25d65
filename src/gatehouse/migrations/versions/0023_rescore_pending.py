"""sync runs: the members whose risk scores a running sync still owes

Each batch of a sync records the members it moved in the batch's transaction, so a resumed
run rescores exactly those (in short transactions) instead of every identity of its source.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create sync_rescore_pending."""
    op.create_table(
        "sync_rescore_pending",
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("member_type", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "run_id", "member_id", name=op.f("pk_sync_rescore_pending")
        ),
    )


def downgrade() -> None:
    """Drop sync_rescore_pending."""
    op.drop_table("sync_rescore_pending")
