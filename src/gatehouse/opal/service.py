"""A tenant's OPAL settings: validated, tokens sealed under the key ring, every change audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import ALL_TENANTS, TENANT
from gatehouse.kit.destinations import changed, must_resend
from gatehouse.kit.partial import named_only
from gatehouse.kit.problems import Problem
from gatehouse.opal.models import OpalSettingsRow, token_context
from gatehouse.opal.schemas import OpalSettings, OpalSettingsIn, OpalSettingsOut
from gatehouse.secrets.keyring import KeyRing
from gatehouse.secrets.service import hold_active_key, open_value
from gatehouse.tenants.status import runs_for

TOKENS_IN = frozenset({"datasource_token", "fetch_token"})
# Where each token goes: the datasource token to the OPAL server; the fetch token inside every
# update to the OPAL server, then from its clients to Gatehouse and to the report callback.
DESTINATIONS = {
    "datasource": ("server_url",),
    "fetch": ("server_url", "fetch_base_url", "callback_url"),
}


@dataclass(frozen=True, slots=True)
class Opened:
    """A tenant's settings with their tokens opened, for the publisher only."""

    tenant: str
    settings: OpalSettings
    datasource_token: str | None
    fetch_token: str | None


async def settings_row(session: AsyncSession, tenant: str) -> OpalSettingsRow | None:
    """The stored settings, if the tenant ever set them."""
    stmt = select(OpalSettingsRow).where(OpalSettingsRow.tenant_id == tenant)
    result = await session.execute(stmt.execution_options(**{TENANT: tenant}))
    return result.scalar_one_or_none()


def current(row: OpalSettingsRow | None) -> OpalSettings:
    """The stored settings, or the defaults when the tenant never set any."""
    return OpalSettings.model_validate(row.config) if row else OpalSettings()


def settings_out(row: OpalSettingsRow | None) -> OpalSettingsOut:
    """Settings as the API shows them: whether each token is set, never its value."""
    if row is None:
        return OpalSettingsOut()
    return OpalSettingsOut(
        **OpalSettings.model_validate(row.config).model_dump(),
        datasource_token_set=row.datasource_token_sealed is not None,
        fetch_token_set=row.fetch_token_sealed is not None,
        version=row.version,
        updated_at=row.updated_at,
    )


def check(settings: OpalSettings, tokens_set: dict[str, bool]) -> None:
    """Refuse enabled settings that could not publish anything an OPAL client can fetch."""
    errors: list[dict[str, str]] = []
    if settings.enabled:
        if settings.server_url is None:
            errors.append({"field": "server_url", "message": "required to publish"})
        if settings.fetch_base_url is None:
            errors.append({"field": "fetch_base_url", "message": "required to publish"})
        if not tokens_set["fetch"]:
            errors.append({"field": "fetch_token", "message": "OPAL clients need it to fetch"})
    if errors:
        raise Problem(422, "These OPAL settings cannot be enabled as they are.", errors=errors)


def stranded(
    before: dict[str, Any],
    after: dict[str, Any],
    stored: dict[str, str | None],
    given: dict[str, str | None],
) -> None:
    """Refuse a change of where a stored token goes unless the token is sent again (or "")."""
    errors: list[dict[str, str]] = []
    for name, fields in DESTINATIONS.items():
        kept = [f"{name}_token"] if stored[name] is not None and given[name] is None else []
        errors += must_resend(changed(before, after, fields), kept, f"body.{name}_token", '""')
    if errors:
        raise Problem(422, "Stored OPAL tokens would go to a new destination.", errors=errors)


async def put_settings(
    session: AsyncSession, ring: KeyRing, actor: Actor, body: OpalSettingsIn
) -> OpalSettingsRow:
    """Change the settings `body` names (tokens sealed; null keeps one, "" clears it), audited."""
    tenant = actor.tenant_id
    row = await settings_row(session, tenant)
    before = settings_out(row).model_dump(mode="json", exclude={"updated_at"}) if row else None
    named = OpalSettings.model_validate(body.model_dump(exclude=set(TOKENS_IN), exclude_unset=True))
    settings = named_only(current(row), named)
    sealed = {
        "datasource": row.datasource_token_sealed if row else None,
        "fetch": row.fetch_token_sealed if row else None,
    }
    given = {"datasource": body.datasource_token, "fetch": body.fetch_token}
    if any(given.values()):
        await hold_active_key(session, ring)
    for name, value in given.items():
        if value is not None:
            sealed[name] = ring.encrypt(value, token_context(tenant, name)) if value else None
    doc = settings.model_dump(mode="json")
    stranded(row.config if row else {}, doc, sealed, given)
    check(settings, {name: value is not None for name, value in sealed.items()})
    if row is None:
        row = OpalSettingsRow(tenant_id=tenant, config=doc, version=1, updated_by=actor.actor)
        session.add(row)
    else:
        row.config, row.version, row.updated_by = doc, row.version + 1, actor.actor
    row.datasource_token_sealed, row.fetch_token_sealed = sealed["datasource"], sealed["fetch"]
    await session.flush()
    after = settings_out(row).model_dump(mode="json", exclude={"updated_at"})
    changed = sorted(name for name, value in given.items() if value is not None)
    await audit.record(
        session,
        actor,
        "opal.settings",
        "tenant",
        tenant,
        before=before,
        after={**after, "tokens_changed": changed},
    )
    return row


async def opened(session: AsyncSession, ring: KeyRing, row: OpalSettingsRow) -> Opened:
    """A row's settings with its tokens decrypted."""
    tenant = row.tenant_id

    async def unseal(token: str | None, name: str) -> str | None:
        if token is None:
            return None
        return await open_value(session, ring, token, token_context(tenant, name))

    return Opened(
        tenant,
        OpalSettings.model_validate(row.config),
        await unseal(row.datasource_token_sealed, "datasource"),
        await unseal(row.fetch_token_sealed, "fetch"),
    )


async def enabled_tenants(session: AsyncSession) -> list[str]:
    """Active tenants whose settings turn publishing on."""
    stmt = select(OpalSettingsRow.tenant_id, OpalSettingsRow.config).where(
        runs_for(OpalSettingsRow.tenant_id)
    )
    rows = await session.execute(stmt.execution_options(**{ALL_TENANTS: True}))
    return [tenant for tenant, config in rows if config.get("enabled")]
