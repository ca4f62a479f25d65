"""Subject enrichment: the store's record of a subject (as the data document carries it).

The record is the user's entry of the tenant's data document: transitive groups, roles and the
attributes whose sensitivity lets them leave Gatehouse. Nothing is recomputed here. A subject is
found by the document's key, then by Gatehouse id, userName (case-insensitive, as SCIM compares
it), externalId, e-mail (case-insensitive) and the ids its sources linked, in that order; a
reference that names more than one person at the first kind it matches finds nobody.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, select

from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.decisions.localdata import row
from gatehouse.decisions.models import LocalData
from gatehouse.decisions.schemas import DEFAULT_ENTRYPOINT
from gatehouse.distribution.document import Snapshot
from gatehouse.distribution.fragments import user_key
from gatehouse.distribution.hub import Distribution
from gatehouse.distribution.service import settings_of
from gatehouse.identity.models import Identity, IdentityLink
from gatehouse.kit.ttl import Expiring

MAX_REF = 256
SETTING_TTL = 5.0  # seconds a tenant's enrichment setting is reused (other processes' changes)
# What the caller says about the subject, kept as sent: AuthZEN's own fields of a subject.
CALLER = ("type", "id", "properties")
# Where the caller's other fields go, and where enrichment says what it found.
CLAIMED, ENRICHMENT = "claimed", "enrichment"
RESERVED = frozenset((*CALLER, CLAIMED, ENRICHMENT))


@dataclass(frozen=True, slots=True)
class Found:
    """A subject's record in the tenant's data document, and the key it is filed under."""

    key: str
    record: dict[str, Any]


def merged(given: dict[str, Any], found: Found | None) -> dict[str, Any]:
    """The subject a policy sees: the store's record at the top (never the caller's), the
    caller's `type`, `id` and `properties` as sent, every other field the caller sent under
    `claimed`, and `enrichment` saying whether (and as whom) the store knew the subject."""
    out = {k: v for k, v in found.record.items() if k not in RESERVED} if found else {}
    for name in CALLER:
        if name in given:
            out[name] = given[name]
    claimed = {k: v for k, v in given.items() if k not in CALLER}
    if claimed:
        out[CLAIMED] = claimed
    if found is None:
        out[ENRICHMENT] = {"found": False}
    else:
        out[ENRICHMENT] = {"found": True, "id": found.record.get("id"), "key": found.key}
    return out


def given_of(subject: Any) -> tuple[str | None, dict[str, Any]] | None:
    """The reference to look up and the caller's subject object (a string is `{"id": it}`), or
    None when `subject` is neither a string nor an object (left as sent)."""
    if isinstance(subject, str):
        return subject, {"id": subject}
    if isinstance(subject, dict):
        ref = subject.get("id")
        return (ref if isinstance(ref, str) else None), subject
    return None


def _usable(ref: str | None) -> bool:
    return bool(ref) and len(ref or "") <= MAX_REF


class Subjects:
    """Looks subjects up in tenants' data documents."""

    def __init__(self, db: Database, distribution: Distribution) -> None:
        self.db, self.distribution = db, distribution
        self.settings: Expiring[str, bool] = Expiring(4096, SETTING_TTL)
        self.entrypoints: Expiring[str, str] = Expiring(4096, SETTING_TTL)
        self.locals: Expiring[str, dict[str, Any]] = Expiring(4096, SETTING_TTL)
        # (tenant, ref) → document key or None: unknown subjects must not cost a query each.
        self.keys: Expiring[tuple[str, str], str | None] = Expiring(100_000, SETTING_TTL)

    async def find(self, tenant: str, subject_ref: str | None) -> Found | None:
        """The subject's record and document key, or None when the store does not know it."""
        if subject_ref is None or not _usable(subject_ref):
            return None
        await self.distribution.current(tenant)
        snap = await self.distribution.snapshot(tenant)
        return await self._record(tenant, snap, subject_ref)

    async def records(self, tenant: str, refs: Iterable[str]) -> dict[str, Found | None]:
        """The records of several subjects from one snapshot, each found as `find` finds it."""
        await self.distribution.current(tenant)
        snap = await self.distribution.snapshot(tenant)
        found: dict[str, Found | None] = {}
        for ref in refs:
            found[ref] = await self._record(tenant, snap, ref) if _usable(ref) else None
        return found

    async def _record(self, tenant: str, snap: Snapshot, subject_ref: str) -> Found | None:
        key: str | None = subject_ref
        entry = snap.entries.get(("users", subject_ref))
        if entry is None or entry.removed:
            key = await self._key_of(tenant, subject_ref)
            entry = snap.entries.get(("users", key)) if key is not None else None
            if entry is None or entry.removed:
                return None
        assert key is not None
        return Found(key, orjson.loads(entry.body))

    async def _key_of(self, tenant: str, ref: str) -> str | None:
        return await self.keys.fetch((tenant, ref), lambda: self._look_up(tenant, ref))

    async def _look_up(self, tenant: str, ref: str) -> str | None:
        columns = select(Identity.id, Identity.user_name, Identity.email).where(
            Identity.tenant_id == tenant, Identity.deleted_at.is_(None)
        )
        by_link = columns.join(
            IdentityLink,
            (IdentityLink.tenant_id == Identity.tenant_id)
            & (IdentityLink.identity_id == Identity.id),
        ).where(IdentityLink.external_id == ref)
        kinds = (
            columns.where(Identity.id == ref),
            columns.where(Identity.user_name_key == ref.strip().lower()),
            columns.where(Identity.external_id == ref),
            columns.where(func.lower(Identity.email) == ref.strip().lower()),
            by_link.distinct(),
        )
        async with self.db.transaction(write=False) as session:
            key = (await settings_of(session, tenant)).key.value
            for stmt in kinds:
                scoped = stmt.limit(2).execution_options(**{TENANT: tenant})
                rows = (await session.execute(scoped)).all()
                if len(rows) > 1:
                    return None  # names more than one person: nobody's facts are given
                if rows:
                    found = rows[0]
                    values = {"id": found.id, "user_name": found.user_name, "email": found.email}
                    return user_key(values, key)
        return None

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

    async def local(self, tenant: str) -> dict[str, Any]:
        """The tenant-local data document (which paths hold data, for `dataread`)."""
        doc = self.locals.get(tenant)
        if doc is not None:
            return doc
        return await self.locals.fetch(tenant, lambda: self._local(tenant))

    async def _local(self, tenant: str) -> dict[str, Any]:
        found = await self._row(tenant)
        return dict(found.document or {}) if found else {}

    async def _row(self, tenant: str) -> LocalData | None:
        async with self.db.transaction(write=False) as session:
            return await row(session, tenant)

    def forget(self, tenant: str) -> None:
        """Drop the tenant's cached settings and local data (after a change in this process)."""
        self.settings.pop(tenant, None)
        self.entrypoints.pop(tenant, None)
        self.locals.pop(tenant, None)

    async def apply(self, tenant: str, input: Any) -> Any:
        """`input` with `subject` as `merged` makes it (a string subject becomes an object).

        Applies when `input.subject` is a string (a reference) or an object (by its `id`); an
        object without a string `id` finds nobody but is still marked, so its fields are claims.
        """
        if not isinstance(input, dict) or "subject" not in input:
            return input
        given = given_of(input["subject"])
        if given is None:
            return input
        found = await self.find(tenant, given[0])
        return {**input, "subject": merged(given[1], found)}
