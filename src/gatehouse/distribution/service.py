"""The tenant's document configuration and what decides the document's shape."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.connections.models import Connection
from gatehouse.db.tenancy import TENANT
from gatehouse.distribution.models import DocumentConfig, DocumentState, SigningKey
from gatehouse.distribution.schemas import DocumentSettings, UserKey
from gatehouse.distribution.shaping import Shaper, connection_levels
from gatehouse.kit.partial import named_only
from gatehouse.kit.problems import Problem


async def config_row(session: AsyncSession, tenant: str) -> DocumentConfig | None:
    """The stored configuration, if the tenant ever set one."""
    stmt = select(DocumentConfig).where(DocumentConfig.tenant_id == tenant)
    result = await session.execute(stmt.execution_options(**{TENANT: tenant}))
    return result.scalar_one_or_none()


async def settings_of(session: AsyncSession, tenant: str) -> DocumentSettings:
    """The configuration in force (the defaults when none is stored)."""
    row = await config_row(session, tenant)
    return DocumentSettings.model_validate(row.config) if row else DocumentSettings()


async def shaper_of(
    session: AsyncSession, tenant: str, settings: DocumentSettings | None = None
) -> Shaper:
    """The field rules of a tenant: its configuration and its connections' sensitivity."""
    if settings is None:
        settings = await settings_of(session, tenant)
    stmt = select(Connection.discovered, Connection.mapping).where(
        Connection.tenant_id == tenant, Connection.deleted_at.is_(None)
    )
    rows = await session.execute(stmt.execution_options(**{TENANT: tenant}))
    connections = [{"discovered": d, "mapping": m} for d, m in rows]
    return Shaper(settings, connection_levels(connections))


async def active_key(session: AsyncSession, tenant: str) -> SigningKey | None:
    """The key bundles are signed with now, if any."""
    stmt = select(SigningKey).where(SigningKey.tenant_id == tenant, SigningKey.status == "active")
    result = await session.execute(stmt.execution_options(**{TENANT: tenant}))
    return result.scalars().first()


async def fragment_count(session: AsyncSession, tenant: str) -> int:
    """How many entries the materialised document holds (0 before it is first built)."""
    stmt = select(DocumentState.fragments).where(DocumentState.tenant_id == tenant)
    return (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalar() or 0


async def shape_of(session: AsyncSession, tenant: str, shaper: Shaper) -> str:
    """A digest of what decides the bundle besides the data: field rules and the signing key."""
    key = await active_key(session, tenant)
    signing = f"{key.id}:{key.algorithm}:{key.scope}" if key else "unsigned"
    return hashlib.sha256(f"{shaper.digest()}|{signing}".encode()).hexdigest()


def check_settings(shaper: Shaper) -> None:
    """Refuse a configuration whose user key would leak a field that may not leave."""
    settings = shaper.settings
    if settings.key is UserKey.email and not shaper.may_leave("users", "email"):
        raise Problem(
            422,
            "Users keyed by email put every address in the document, but `email` is "
            f"{shaper.level('users', 'email').value}: add it to `allow` first.",
            errors=[{"field": "key", "message": "email may not leave; allow it or key by id"}],
        )


async def put_settings(
    session: AsyncSession, actor: Actor, given: DocumentSettings
) -> DocumentConfig:
    """Change the settings `given` names (checked against the field rules), audited."""
    tenant = actor.tenant_id
    row = await config_row(session, tenant)
    current = DocumentSettings.model_validate(row.config) if row else DocumentSettings()
    settings = named_only(current, given)
    check_settings(await shaper_of(session, tenant, settings))
    before = dict(row.config) if row else None
    doc = settings.model_dump(mode="json")
    if row is None:
        row = DocumentConfig(tenant_id=tenant, config=doc, version=1, updated_by=actor.actor)
        session.add(row)
    else:
        row.config, row.version, row.updated_by = doc, row.version + 1, actor.actor
    await session.flush()
    await audit.record(
        session, actor, "distribution.config", "tenant", tenant, before=before, after=doc
    )
    return row
