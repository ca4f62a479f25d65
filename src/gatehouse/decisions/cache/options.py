"""Each tenant's cache settings and alert thresholds: stored beside its decision settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.decisions.localdata import row
from gatehouse.decisions.schemas import AlertThresholds, CacheSettings
from gatehouse.kit.partial import named_only
from gatehouse.kit.ttl import Expiring

B = TypeVar("B", CacheSettings, AlertThresholds)

REUSE_SECONDS = 5.0  # how long a tenant's stored options are reused (other processes' changes)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """The cache settings in force for a tenant (defaults filled in)."""

    enabled: bool
    ttl: float
    size: int


@dataclass(frozen=True, slots=True)
class Options:
    """A tenant's stored settings as sent."""

    cache: CacheSettings
    alerts: AlertThresholds


async def stored(session: AsyncSession, tenant: str) -> Options:
    """The tenant's stored cache settings and thresholds."""
    found = await row(session, tenant)
    cache = CacheSettings.model_validate(found.cache or {}) if found else CacheSettings()
    alerts = AlertThresholds.model_validate(found.alerts or {}) if found else AlertThresholds()
    return Options(cache, alerts)


ACTIONS = {"cache": "decision_cache.put", "alerts": "alert_thresholds.put"}


async def put(session: AsyncSession, actor: Actor, what: Literal["cache", "alerts"], given: B) -> B:
    """Change the cache settings or alert thresholds `given` names (audited); the result."""
    found = await row(session, actor.tenant_id, lock=True)
    assert found is not None
    before = getattr(found, what) or {}
    value = named_only(type(given).model_validate(before), given)
    after = value.model_dump()
    setattr(found, what, after)
    await audit.record(
        session, actor, ACTIONS[what], "decision_settings", what, before=before, after=after
    )
    return value


class TenantOptions:
    """Reads tenants' options, reused for a few seconds."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.held: Expiring[str, tuple[Options, CachePolicy]] = Expiring(4096, REUSE_SECONDS)

    async def of(self, tenant: str) -> tuple[Options, CachePolicy]:
        """The tenant's options and its cache policy."""
        found = self.held.get(tenant)  # the hot path: no coroutine, no closure
        if found is not None:
            return found
        return await self.held.fetch(tenant, lambda: self._load(tenant))

    async def _load(self, tenant: str) -> tuple[Options, CachePolicy]:
        async with self.db.transaction(write=False) as session:
            options = await stored(session, tenant)
        return options, self._policy(options.cache)

    def _policy(self, cache: CacheSettings) -> CachePolicy:
        s = self.settings
        return CachePolicy(
            s.decision_cache_enabled if cache.enabled is None else cache.enabled,
            s.decision_cache_ttl_seconds if cache.ttl_seconds is None else cache.ttl_seconds,
            s.decision_cache_max_entries if cache.max_entries is None else cache.max_entries,
        )

    def forget(self, tenant: str) -> None:
        """Read the tenant's options again on next use (this process changed them)."""
        self.held.pop(tenant, None)
