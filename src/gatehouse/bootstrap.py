"""Prepare a database for serving: migrations, key ring, and the optional demo tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from gatehouse.audit.context import Actor
from gatehouse.auth import service as tokens
from gatehouse.auth.models import ApiToken
from gatehouse.auth.schemas import TokenCreate
from gatehouse.config import Settings, Tier
from gatehouse.db import migrate
from gatehouse.db.engine import Database
from gatehouse.identity.bulk import load_org
from gatehouse.identity.synthetic import generate
from gatehouse.secrets.keyring import load_keyring
from gatehouse.tenants import service as tenants
from gatehouse.tenants.models import Tenant
from gatehouse.tenants.schemas import TenantCreate

DEMO_TENANT = "demo"
DEMO_TOKEN_NAME = "demo admin"  # noqa: S105 (a label, not a secret)
SYSTEM = Actor(tenant_id="_platform", actor="system:bootstrap")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What preparing the database did."""

    revision: str | None
    demo_created: bool = False
    demo_token: str | None = None


async def prepare(settings: Settings, *, demo: bool, new_token: bool = False) -> Prepared:
    """Migrate, open (or create) the key ring, and set up the demo tenant when asked."""
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    try:
        await migrate.upgrade(db.engine, settings=settings)
        revision = await migrate.current(db.engine)
        async with db.transaction() as session:
            await load_keyring(session, settings)
        if not demo:
            return Prepared(revision)
        async with db.transaction() as session:
            created = await session.get(Tenant, DEMO_TENANT) is None
            if created:
                data = TenantCreate(id=DEMO_TENANT, name="Demo", tier=Tier.pro)
                await tenants.create_tenant(session, SYSTEM, data)
                demo_actor = Actor(tenant_id=DEMO_TENANT, actor="system:bootstrap")
                await load_org(session, demo_actor, generate(50, 8, seed=1), source="demo-hr")
            live = await session.execute(
                select(ApiToken.id)
                .where(ApiToken.tenant_id == DEMO_TENANT, ApiToken.revoked_at.is_(None))
                .where(ApiToken.expires_at > datetime.now(UTC))
                .where(ApiToken.name == DEMO_TOKEN_NAME)
                .execution_options(gatehouse_tenant_id=DEMO_TENANT)
            )
            secret = None
            if new_token or live.first() is None:
                actor = Actor(tenant_id=DEMO_TENANT, actor="system:bootstrap")
                body = TokenCreate(name=DEMO_TOKEN_NAME, scopes=["admin:*"], expires_in_days=30)
                _, secret = await tokens.create_token(
                    session,
                    actor,
                    DEMO_TENANT,
                    body,
                    granted_by=None,
                    default_days=settings.token_default_expiry_days,
                    tier_limit=settings.rate_limit_pro,
                )
        return Prepared(revision, created, secret)
    finally:
        await db.dispose()
