"""distribution: the materialised data document, its revisions and configuration, signing keys

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "distribution_configs",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_distribution_configs")),
    )
    op.create_table(
        "distribution_states",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("aggregate", sa.String(40), nullable=False),
        sa.Column("shape", sa.String(64), nullable=False),
        sa.Column("event_cursor", sa.BigInteger(), nullable=False),
        sa.Column("delta_floor", sa.BigInteger(), nullable=False),
        sa.Column("fragments", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_distribution_states")),
    )
    op.create_table(
        "distribution_fragments",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("section", sa.String(80), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "section", "key", name=op.f("pk_distribution_fragments")
        ),
    )
    op.create_index(
        "ix_distribution_fragments_revision",
        "distribution_fragments",
        ["tenant_id", "revision"],
    )
    op.create_index(
        "ix_distribution_fragments_record",
        "distribution_fragments",
        ["tenant_id", "record_id"],
    )
    op.create_table(
        "distribution_revisions",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "revision", name=op.f("pk_distribution_revisions")),
    )
    op.create_table(
        "distribution_signing_keys",
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("public_pem", sa.Text(), nullable=False),
        sa.Column("private_sealed", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retired_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_distribution_signing_keys")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("distribution_signing_keys")
    op.drop_table("distribution_revisions")
    op.drop_index("ix_distribution_fragments_record", table_name="distribution_fragments")
    op.drop_index("ix_distribution_fragments_revision", table_name="distribution_fragments")
    op.drop_table("distribution_fragments")
    op.drop_table("distribution_states")
    op.drop_table("distribution_configs")
