"""What Gatehouse serves: the hook the status view compares each OPA's revision with.

The distribution package owns bundle revisions; the composition root sets
`Services.served_revisions` to its implementation. Until then nothing is known to be served,
so instances are never reported behind (their revisions are still shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ServedRevision:
    """A bundle revision Gatehouse serves or has served."""

    revision: str
    published_at: datetime | None = None  # when Gatehouse started serving it
    sequence: int | None = None  # its place in the bundle's history (monotonic)


class RevisionSource(Protocol):
    """Tells the status view which bundle revision a tenant's OPAs should run."""

    async def current(self, tenant_id: str, bundle: str) -> ServedRevision | None:
        """The revision served now for the bundle OPA calls `bundle`, or None (unknown)."""
        ...

    async def lookup(self, tenant_id: str, bundle: str, revision: str) -> ServedRevision | None:
        """What Gatehouse knows of an earlier revision (its sequence), or None."""
        ...


class NoRevisions:
    """The default source: no bundle is known to be served."""

    async def current(self, tenant_id: str, bundle: str) -> ServedRevision | None:
        """Nothing is served."""
        return None

    async def lookup(self, tenant_id: str, bundle: str, revision: str) -> ServedRevision | None:
        """Nothing is known."""
        return None


@dataclass(frozen=True, slots=True)
class Lag:
    """How far one instance's bundle is behind what Gatehouse serves."""

    served: ServedRevision | None
    behind: bool | None  # None: nothing known to be served
    revisions_behind: int | None
    behind_since: datetime | None


async def lag_of(
    source: RevisionSource,
    tenant_id: str,
    bundle: str,
    active: str | None,
    noticed: datetime | None,
) -> Lag:
    """Compare an instance's active revision with the served one.

    `noticed` is when a status report first showed this instance behind on this revision;
    the lag starts at the earlier of that and the moment the served revision was published.
    """
    served = await source.current(tenant_id, bundle)
    if served is None:
        return Lag(None, None, None, None)
    if active == served.revision:
        return Lag(served, False, 0, None)
    known = await source.lookup(tenant_id, bundle, active) if active else None
    count = None
    if served.sequence is not None and known is not None and known.sequence is not None:
        count = max(served.sequence - known.sequence, 0)
    since = min((t for t in (noticed, served.published_at) if t is not None), default=None)
    return Lag(served, True, count, since)


class Remembered:
    """A source that asks the one it wraps once per question (for one listing)."""

    def __init__(self, source: RevisionSource) -> None:
        self.source = source
        self.answers: dict[tuple[str, str, str | None], ServedRevision | None] = {}

    async def current(self, tenant_id: str, bundle: str) -> ServedRevision | None:
        """The wrapped source's answer, asked once."""
        key = (tenant_id, bundle, None)
        if key not in self.answers:
            self.answers[key] = await self.source.current(tenant_id, bundle)
        return self.answers[key]

    async def lookup(self, tenant_id: str, bundle: str, revision: str) -> ServedRevision | None:
        """The wrapped source's answer, asked once."""
        key = (tenant_id, bundle, revision)
        if key not in self.answers:
            self.answers[key] = await self.source.lookup(tenant_id, bundle, revision)
        return self.answers[key]
