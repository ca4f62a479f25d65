"""The bundle revisions this tenant's OPAs should run, for the fleet status view."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from gatehouse.db.engine import Database
from gatehouse.db.tenancy import TENANT
from gatehouse.distribution.models import Revision
from gatehouse.fleet.revisions import ServedRevision

GATEHOUSE_BUNDLE = "gatehouse"  # besides the tenant's id, the bundle name OPA configs may use


class ServedRevisions:
    """Gatehouse's own bundle (named `gatehouse` or as the tenant in OPA's configuration), read
    from the published revisions: nothing is built or written to answer, and a tenant whose
    document was never built serves nothing."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def current(self, tenant_id: str, bundle: str) -> ServedRevision | None:
        """The newest revision published for the tenant; None for bundles not Gatehouse's."""
        if bundle not in (tenant_id, GATEHOUSE_BUNDLE):
            return None
        stmt = select(Revision.revision, Revision.content_hash, Revision.created_at).where(
            Revision.tenant_id == tenant_id
        )
        return await self._first(tenant_id, stmt.order_by(Revision.revision.desc()).limit(1))

    async def lookup(self, tenant_id: str, bundle: str, revision: str) -> ServedRevision | None:
        """An earlier revision by its manifest text (`<counter>-<hash prefix>`), if published."""
        counter, _, prefix = revision.partition("-")
        if bundle not in (tenant_id, GATEHOUSE_BUNDLE) or not counter.isdigit() or not prefix:
            return None
        stmt = select(Revision.revision, Revision.content_hash, Revision.created_at).where(
            Revision.tenant_id == tenant_id, Revision.revision == int(counter)
        )
        found = await self._first(tenant_id, stmt)
        return found if found is not None and found.revision == revision else None

    async def _first(
        self, tenant_id: str, stmt: Select[int, str, datetime]
    ) -> ServedRevision | None:
        async with self.db.transaction(write=False) as session:
            scoped = stmt.execution_options(**{TENANT: tenant_id})
            row = (await session.execute(scoped)).first()
        if row is None:
            return None
        counter, content_hash, published = row
        return ServedRevision(f"{counter}-{content_hash[:16]}", published, counter)
