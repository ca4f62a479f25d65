"""sync runs, stream cursors and schedules

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 05:54:56.078189
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "sync_cursors",
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("stream", sa.String(length=256), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "connection_id", "stream", name=op.f("pk_sync_cursors")
        ),
    )
    with op.batch_alter_table("sync_cursors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_cursors_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("confirm_deletes", sa.Boolean(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "progress",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "error_samples",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_runs_connection", ["tenant_id", "connection_id", "queued_at"], unique=False
        )
        batch_op.create_index("ix_sync_runs_status", ["status", "queued_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sync_runs_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "uq_sync_runs_active",
            ["tenant_id", "connection_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )

    op.create_table(
        "sync_schedules",
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(length=120), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.String(length=36), nullable=True),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "connection_id", name=op.f("pk_sync_schedules")),
    )
    with op.batch_alter_table("sync_schedules", schema=None) as batch_op:
        batch_op.create_index("ix_sync_schedules_due", ["enabled", "next_run_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sync_schedules_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("sync_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_schedules_tenant_id"))
        batch_op.drop_index("ix_sync_schedules_due")

    op.drop_table("sync_schedules")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sync_runs_active",
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.drop_index(batch_op.f("ix_sync_runs_tenant_id"))
        batch_op.drop_index("ix_sync_runs_status")
        batch_op.drop_index("ix_sync_runs_connection")

    op.drop_table("sync_runs")
    with op.batch_alter_table("sync_cursors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_cursors_tenant_id"))

    op.drop_table("sync_cursors")
