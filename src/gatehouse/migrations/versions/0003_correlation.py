"""correlation provenance and conflicts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:28:38.577309
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "conflicts",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("identity_id", sa.String(length=36), nullable=True),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=False),
        sa.Column(
            "offered",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("kept_source", sa.String(length=64), nullable=False),
        sa.Column(
            "kept",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index("ix_conflicts_identity", ["tenant_id", "identity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conflicts_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "provenance",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("provenance")

    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conflicts_tenant_id"))
        batch_op.drop_index("ix_conflicts_identity")

    op.drop_table("conflicts")
