"""fleet: OPA instance status and the decision log

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-02 11:54:47
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "decision_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("decision_id", sa.String(length=128), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=500), nullable=True),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("input", JSON, nullable=True),
        sa.Column("defined", sa.Boolean(), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("cache_hit", sa.Boolean(), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("bundles", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=True),
        sa.Column("erased", JSON, nullable=False),
        sa.Column("masked", JSON, nullable=False),
        sa.Column("requested_by", sa.String(length=500), nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("extra", JSON, nullable=True),
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_decision_log")),
    )
    with op.batch_alter_table("decision_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decision_log_instance", ["tenant_id", "instance_id", "decided_at"], unique=False
        )
        batch_op.create_index(
            "ix_decision_log_path", ["tenant_id", "path", "decided_at"], unique=False
        )
        batch_op.create_index(
            "ix_decision_log_time", ["tenant_id", "decided_at", "seq"], unique=False
        )
        batch_op.create_index("uq_decision_log_decision", ["tenant_id", "decision_id"], unique=True)

    op.create_table(
        "opa_instances",
        sa.Column("instance_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("partition", sa.String(length=200), nullable=False),
        sa.Column("bundles", JSON, nullable=False),
        sa.Column("discovery", JSON, nullable=True),
        sa.Column("decision_logs", JSON, nullable=True),
        sa.Column("plugins", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_report_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "instance_id", name=op.f("pk_opa_instances")),
    )
    with op.batch_alter_table("opa_instances", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opa_instances_seen", ["tenant_id", "last_report_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("opa_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_opa_instances_seen")

    op.drop_table("opa_instances")
    with op.batch_alter_table("decision_log", schema=None) as batch_op:
        batch_op.drop_index("uq_decision_log_decision")
        batch_op.drop_index("ix_decision_log_time")
        batch_op.drop_index("ix_decision_log_path")
        batch_op.drop_index("ix_decision_log_instance")

    op.drop_table("decision_log")
