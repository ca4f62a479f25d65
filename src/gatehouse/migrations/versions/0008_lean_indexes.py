"""lean indexes: no tenant-only index where every index leads with the tenant; no event type index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 07:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, index, columns): each write to these tables maintained an index no query needs.
DROPPED = (
    ("identities", "ix_identities_tenant_id", ["tenant_id"]),
    ("groups", "ix_groups_tenant_id", ["tenant_id"]),
    ("memberships", "ix_memberships_tenant_id", ["tenant_id"]),
    ("identity_links", "ix_identity_links_tenant_id", ["tenant_id"]),
    ("group_links", "ix_group_links_tenant_id", ["tenant_id"]),
    ("record_versions", "ix_record_versions_tenant_id", ["tenant_id"]),
    ("events", "ix_events_tenant_id", ["tenant_id"]),
    ("events", "ix_events_type", ["type"]),
)


def upgrade() -> None:
    """Apply this revision."""
    for table, index, _ in DROPPED:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    """Revert this revision."""
    for table, index, columns in DROPPED:
        op.create_index(index, table, columns, unique=False)
