"""identity links: find a person by a source's id for them, whichever source linked it

Subject enrichment looks up the ids sources linked (a PEP knows its IdP's id, not Gatehouse's
source name); the primary key starts with the source, so an index on (tenant, external id).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 23:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ix_identity_links_external (tenant_id, external_id)."""
    op.create_index("ix_identity_links_external", "identity_links", ["tenant_id", "external_id"])


def downgrade() -> None:
    """Drop ix_identity_links_external."""
    op.drop_index("ix_identity_links_external", table_name="identity_links")
