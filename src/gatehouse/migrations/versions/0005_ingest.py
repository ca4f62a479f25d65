"""batch ingestion: tenant in link keys, group links, membership sources, seen markers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.drop_constraint("pk_identity_links", type_="primary")
        batch_op.create_primary_key("pk_identity_links", ["tenant_id", "source", "external_id"])
        batch_op.add_column(sa.Column("seen_run", sa.String(length=36), nullable=True))
    op.create_table(
        "group_links",
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_run", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "source", "external_id", name=op.f("pk_group_links")),
    )
    with op.batch_alter_table("group_links", schema=None) as batch_op:
        batch_op.create_index("ix_group_links_group", ["tenant_id", "group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_links_tenant_id"), ["tenant_id"], unique=False)
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("seen_run", sa.String(length=36), nullable=True))
    op.create_index(
        "ix_identities_tenant_email_lower",
        "identities",
        ["tenant_id", sa.text("lower(email)")],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_identities_tenant_email_lower", table_name="identities")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("seen_run")
        batch_op.drop_column("source")
    with op.batch_alter_table("group_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_links_tenant_id"))
        batch_op.drop_index("ix_group_links_group")
    op.drop_table("group_links")
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.drop_column("seen_run")
        batch_op.drop_constraint("pk_identity_links", type_="primary")
        batch_op.create_primary_key("pk_identity_links", ["source", "external_id"])
