"""api tokens: the token that minted each one

A token minted through the API records its parent, so that revoking the parent revokes its
descendants and a child never outlives its parent.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add api_tokens.parent_id (null for tokens made before, or outside the API)."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(36), nullable=True))
        batch.create_index("ix_api_tokens_parent_id", ["parent_id"])


def downgrade() -> None:
    """Drop api_tokens.parent_id."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_parent_id")
        batch.drop_column("parent_id")
