"""authzen: the rule each tenant's AuthZEN and /v1/authorize requests evaluate

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("decision_data") as batch:
        batch.add_column(sa.Column("entrypoint", sa.String(length=500), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("decision_data") as batch:
        batch.drop_column("entrypoint")
