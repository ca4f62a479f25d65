"""sync runs: whether a finished run's changes are in the store

A dry run and an all-or-nothing import that failed count what they would have written but
write nothing; `written` says so, so answers report written and would-be counts apart.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add sync_runs.written (null for runs that have not finished, or finished before)."""
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("written", sa.Boolean(), nullable=True))


def downgrade() -> None:
    """Drop sync_runs.written."""
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("written")
