"""opal: publishing settings, the durable DataUpdate queue, and OPAL clients' reports

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "opal_settings",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("datasource_token_sealed", sa.Text(), nullable=True),
        sa.Column("fetch_token_sealed", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_opal_settings")),
    )
    op.create_table(
        "opal_publishes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("connection_id", sa.String(36), nullable=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("update", JSON, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(2000), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opal_publishes")),
    )
    with op.batch_alter_table("opal_publishes", schema=None) as batch_op:
        batch_op.create_index("ix_opal_publishes_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_opal_publishes_tenant", ["tenant_id", "created_at"], unique=False)
    op.create_table(
        "opal_reports",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("update_id", sa.String(200), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("entries", JSON, nullable=False),
        sa.Column("user_data", JSON, nullable=False),
        sa.Column("reporter", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_opal_reports")),
    )
    with op.batch_alter_table("opal_reports", schema=None) as batch_op:
        batch_op.create_index("ix_opal_reports_time", ["tenant_id", "received_at"], unique=False)
        batch_op.create_index("ix_opal_reports_update", ["tenant_id", "update_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("opal_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_opal_reports_update")
        batch_op.drop_index("ix_opal_reports_time")
    op.drop_table("opal_reports")
    with op.batch_alter_table("opal_publishes", schema=None) as batch_op:
        batch_op.drop_index("ix_opal_publishes_tenant")
        batch_op.drop_index("ix_opal_publishes_due")
    op.drop_table("opal_publishes")
    op.drop_table("opal_settings")
