"""Subject enrichment: the store's record of a subject (as the data document carries it).

The record is the user's entry of the tenant's data document: transitive groups, roles and the
attributes whose sensitivity lets them leave Gatehouse. Nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import or_, select

from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.decisions.localdata import row
from gatehouse.decisions.models import LocalData
from gatehouse.decisions.schemas import DEFAULT_ENTRYPOINT
from gatehouse.distribution.document import Snapshot
from gatehouse.distribution.fragments import user_key
from gatehouse.distribution.hub import Distribution
from gatehouse.distribution.service import settings_of
from gatehouse.identity.models import Identity
from gatehouse.kit.ttl import Expiring

MAX_REF = 256
SETTING_TTL = 5.0  # seconds a tenant's enrichment setting is reused (other processes' changes)


class Subjects:
    """Looks subjects up in tenants' data documents."""

    def __init__(self, db: Database, distribution: Distribution) -> None:
        self.db, self.distribution = db, distribution
        self.settings: Expiring[str, bool] = Expiring(4096, SETTING_TTL)
        self.entrypoints: Expiring[str, str] = Expiring(4096, SETTING_TTL)
        # (tenant, ref) → document key or None: unknown subjects must not cost a query each.
        self.keys: Expiring[tuple[str, str], str | None] = Expiring(100_000, SETTING_TTL)

    async def enrich(self, tenant: str, subject_ref: str) -> dict[str, Any] | None:
        """The subject's record (by the document's user key, else by id or userName), or None."""
        if not subject_ref or len(subject_ref) > MAX_REF:
            return None
        await self.distribution.current(tenant)
        snap = await self.distribution.snapshot(tenant)
        return await self._record(tenant, snap, subject_ref)

    async def records(self, tenant: str, refs: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """The records of several subjects from one snapshot, each found as `enrich` finds it."""
        await self.distribution.current(tenant)
        snap = await self.distribution.snapshot(tenant)
        found: dict[str, dict[str, Any] | None] = {}
        for ref in refs:
            usable = ref and len(ref) <= MAX_REF
            found[ref] = await self._record(tenant, snap, ref) if usable else None
        return found

    async def _record(self, tenant: str, snap: Snapshot, subject_ref: str) -> dict[str, Any] | None:
        entry = snap.entries.get(("users", subject_ref))
        if entry is None or entry.removed:
            key = await self._key_of(tenant, subject_ref)
            entry = snap.entries.get(("users", key)) if key is not None else None
            if entry is None or entry.removed:
                return None
        found: dict[str, Any] = orjson.loads(entry.body)
        return found

    async def _key_of(self, tenant: str, ref: str) -> str | None:
        return await self.keys.fetch((tenant, ref), lambda: self._look_up(tenant, ref))

    async def _look_up(self, tenant: str, ref: str) -> str | None:
        async with self.db.transaction(write=False) as session:
            key = (await settings_of(session, tenant)).key.value
            stmt = (
                select(Identity.id, Identity.user_name, Identity.email)
                .where(Identity.tenant_id == tenant)
                .where(or_(Identity.id == ref, Identity.user_name == ref))
                .limit(1)
            )
            found = (await session.execute(stmt.execution_options(**{TENANT: tenant}))).first()
        if found is None:
            return None
        values = {"id": found.id, "user_name": found.user_name, "email": found.email}
        return user_key(values, key)

    async def enabled(self, tenant: str) -> bool:
        """Whether the tenant has enrichment on (the default)."""
        on = self.settings.get(tenant)  # the hot path: no coroutine, no closure
        if on is not None:
            return on
        return await self.settings.fetch(tenant, lambda: self._enabled(tenant))

    async def _enabled(self, tenant: str) -> bool:
        found = await self._row(tenant)
        return found is None or found.enrich is not False

    async def entrypoint(self, tenant: str) -> str:
        """The rule the tenant's AuthZEN and `/v1/authorize` requests evaluate."""
        rule = self.entrypoints.get(tenant)
        if rule is not None:
            return rule
        return await self.entrypoints.fetch(tenant, lambda: self._entrypoint(tenant))

    async def _entrypoint(self, tenant: str) -> str:
        found = await self._row(tenant)
        return (found.entrypoint if found else None) or DEFAULT_ENTRYPOINT

    async def _row(self, tenant: str) -> LocalData | None:
        async with self.db.transaction(write=False) as session:
            return await row(session, tenant)

    def forget(self, tenant: str) -> None:
        """Drop the tenant's cached settings (after a change in this process)."""
        self.settings.pop(tenant, None)
        self.entrypoints.pop(tenant, None)

    async def apply(self, tenant: str, input: Any) -> Any:
        """`input` with `subject` replaced by the store's record merged in (store fields win).

        Applies when `input.subject` is a string (an id or userName) or an object with an `id`.
        """
        if not isinstance(input, dict):
            return input
        subject = input.get("subject")
        if isinstance(subject, str):
            ref, given = subject, {"id": subject}
        elif isinstance(subject, dict) and isinstance(subject.get("id"), str):
            ref, given = subject["id"], subject
        else:
            return input
        record = await self.enrich(tenant, ref)
        if record is None:
            return input
        return {**input, "subject": {**given, **record}}
