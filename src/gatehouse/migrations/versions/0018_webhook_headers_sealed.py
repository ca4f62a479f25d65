"""webhooks: custom headers sealed at rest; resends start a new series of attempts

Endpoints' custom header values were stored as plain JSON (masked only when shown); they move
to `headers_sealed`, encrypted with the key ring like the signing secrets, and the plain column
goes. Existing rows are sealed here, so the upgrade needs the master key when any endpoint has
headers. Deliveries and attempts gain `series`: a resend or recovery counts its attempts afresh
under the next series while the earlier attempts stay listed.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 21:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from gatehouse.config import ConfigError, Settings, load_settings
from gatehouse.secrets.keyring import KeyRing, load_master_key, open_ring

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ENDPOINTS = sa.table(
    "webhook_endpoints",
    sa.column("id", sa.String()),
    sa.column("tenant_id", sa.String()),
    sa.column("headers", JSON),
    sa.column("headers_sealed", sa.Text()),
)
KEYS = sa.table(
    "encryption_keys",
    sa.column("id", sa.String()),
    sa.column("wrapped", sa.Text()),
    sa.column("status", sa.String()),
)


def _context(tenant: str, endpoint: str) -> str:
    """The associated data headers are sealed with (gatehouse.webhooks.models.secret_context)."""
    return f"webhook:{tenant}:{endpoint}:headers"


def _ring() -> KeyRing:
    """The stored key ring, opened with the master key the settings (or environment) name."""
    settings: Settings = context.config.attributes.get("settings") or load_settings()
    master = load_master_key(settings, create=False)
    if master is None:
        raise ConfigError(
            "webhook endpoints' custom headers must be sealed (or opened) by this migration, "
            f"but there is no master key: set GATEHOUSE_MASTER_KEY or restore {settings.key_file}"
        )
    rows = op.get_bind().execute(sa.select(KEYS.c.id, KEYS.c.wrapped, KEYS.c.status)).all()
    return open_ring(master, rows)


def _series(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("series", sa.Integer(), nullable=False, server_default="1"))


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers_sealed", sa.Text(), nullable=True))
    bind = op.get_bind()
    found = bind.execute(sa.select(ENDPOINTS.c.id, ENDPOINTS.c.tenant_id, ENDPOINTS.c.headers))
    plain = [(row.id, row.tenant_id, row.headers) for row in found if row.headers]
    ring = _ring() if plain else None
    for endpoint, tenant, headers in plain:
        assert ring is not None
        sealed = ring.encrypt(json.dumps(headers), _context(tenant, endpoint))
        bind.execute(
            sa.update(ENDPOINTS).where(ENDPOINTS.c.id == endpoint).values(headers_sealed=sealed)
        )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("headers")
    _series("webhook_deliveries")
    _series("webhook_attempts")


def downgrade() -> None:
    """Revert this revision."""
    for table in ("webhook_attempts", "webhook_deliveries"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("series")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", JSON, nullable=True))
    bind = op.get_bind()
    bind.execute(sa.update(ENDPOINTS).values(headers={}))
    found = bind.execute(
        sa.select(ENDPOINTS.c.id, ENDPOINTS.c.tenant_id, ENDPOINTS.c.headers_sealed)
    )
    sealed = [(row.id, row.tenant_id, row.headers_sealed) for row in found if row.headers_sealed]
    ring = _ring() if sealed else None
    for endpoint, tenant, token in sealed:
        assert ring is not None
        headers = json.loads(ring.decrypt(token, _context(tenant, endpoint)))
        bind.execute(sa.update(ENDPOINTS).where(ENDPOINTS.c.id == endpoint).values(headers=headers))
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("headers", existing_type=JSON, nullable=False)
        batch_op.drop_column("headers_sealed")
