"""The bundle revisions this tenant's OPAs should run, for the fleet status view."""

from __future__ import annotations

from sqlalchemy import select

from gatehouse.distribution.hub import Distribution
from gatehouse.distribution.models import Revision
from gatehouse.fleet.revisions import ServedRevision

GATEHOUSE_BUNDLE = "gatehouse"  # besides the tenant's id, the bundle name OPA configs may use


class ServedRevisions:
    """Gatehouse's own bundle: named `gatehouse` or as the tenant in OPA's configuration."""

    def __init__(self, hub: Distribution) -> None:
        self.hub = hub

    async def current(self, tenant_id: str, bundle: str) -> ServedRevision | None:
        """The revision `/bundles/{tenant}` serves now; None for bundles not Gatehouse's."""
        if bundle not in (tenant_id, GATEHOUSE_BUNDLE):
            return None
        now = await self.hub.current(tenant_id)
        prefix = now.content_hash[:16]
        known = await self._known(tenant_id, now.revision, prefix)
        return known or ServedRevision(f"{now.revision}-{prefix}", None, now.revision)

    async def lookup(self, tenant_id: str, bundle: str, revision: str) -> ServedRevision | None:
        """An earlier revision by its manifest text (`<counter>-<hash prefix>`), if published."""
        counter, _, prefix = revision.partition("-")
        if bundle not in (tenant_id, GATEHOUSE_BUNDLE) or not counter.isdigit() or not prefix:
            return None
        return await self._known(tenant_id, int(counter), prefix)

    async def _known(self, tenant_id: str, counter: int, prefix: str) -> ServedRevision | None:
        async with self.hub.db.transaction(write=False) as session:
            stmt = select(Revision.content_hash, Revision.created_at).where(
                Revision.tenant_id == tenant_id, Revision.revision == counter
            )
            found = (
                await session.execute(stmt.execution_options(gatehouse_tenant_id=tenant_id))
            ).one_or_none()
        if found is None or found.content_hash[:16] != prefix:
            return None
        return ServedRevision(f"{counter}-{prefix}", found.created_at, counter)
