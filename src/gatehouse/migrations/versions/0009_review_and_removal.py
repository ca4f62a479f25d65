"""review and removal: conflict review, resource links and soft delete, manager references

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("candidates", JSON, nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="open")
        )
        batch_op.add_column(sa.Column("resolution", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("note", sa.String(length=1000), nullable=True))
        batch_op.create_index("ix_conflicts_status", ["tenant_id", "status", "id"], unique=False)
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manager_ref", sa.String(length=256), nullable=True))
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "resource_links",
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_run", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "source", "external_id", name=op.f("pk_resource_links")
        ),
    )
    op.create_index(
        "ix_resource_links_resource", "resource_links", ["tenant_id", "resource_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_resource_links_resource", table_name="resource_links")
    op.drop_table("resource_links")
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.drop_column("manager_ref")
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_status")
        batch_op.drop_column("note")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("resolution")
        batch_op.drop_column("status")
        batch_op.drop_column("candidates")
