"""An in-memory copy of a tenant's materialised document, kept at a revision and assembled."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.distribution import service
from gatehouse.distribution.desired import Path
from gatehouse.distribution.fragments import canonical
from gatehouse.distribution.models import DocumentState, Fragment


@dataclass(slots=True)
class Cached:
    """An entry (or tombstone) as of the snapshot's revision."""

    body: bytes
    revision: int
    removed: bool


@dataclass
class Snapshot:
    """A tenant's document at one revision."""

    tenant: str
    revision: int = -1
    content_hash: str = ""
    delta_floor: int = 0
    root: tuple[str, ...] = ("gatehouse",)
    streams: tuple[str, ...] = ()
    delta: bool = True
    entries: dict[Path, Cached] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        """The ETag (and manifest revision) of this revision."""
        return etag_of(self.revision, self.content_hash)

    async def sync(self, session: AsyncSession) -> None:
        """Catch up with the stored document (one consistent read)."""
        if session.get_bind().dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        tenant = self.tenant
        scoped = {TENANT: tenant}
        state = (
            await session.execute(
                select(DocumentState)
                .where(DocumentState.tenant_id == tenant)
                .execution_options(**scoped)
            )
        ).scalar_one_or_none()
        if state is None or state.revision == self.revision:
            return
        settings = await service.settings_of(session, tenant)
        stmt = select(
            Fragment.section, Fragment.key, Fragment.body, Fragment.revision, Fragment.removed
        ).where(Fragment.tenant_id == tenant)
        if self.revision >= 0:
            stmt = stmt.where(Fragment.revision > self.revision)
        rows = await session.execute(stmt.execution_options(**scoped))
        for section, key, body, revision, removed in rows:
            self.entries[(section, key)] = Cached(body.encode(), revision, removed)
        self.revision, self.content_hash = state.revision, state.content_hash
        self.delta_floor = state.delta_floor
        self.root = tuple(settings.root.split("/"))
        self.streams = tuple(settings.streams)
        self.delta = settings.delta

    def data_json(self) -> bytes:
        """The whole document under its root, in OPA's canonical JSON encoding."""
        sections: dict[str, list[tuple[str, bytes]]] = {}
        for (section, key), entry in self.entries.items():
            if not entry.removed:
                sections.setdefault(section, []).append((key, entry.body))
        parts: dict[str, bytes] = {s: b"{}" for s in self.streams}
        resources: list[tuple[str, bytes]] = []
        for section, items in sections.items():
            items.sort()
            body = b"{" + b",".join(canonical(k) + b":" + v for k, v in items) + b"}"
            kind, _, rtype = section.partition("/")
            if kind == "resources":
                resources.append((rtype, body))
            else:
                parts[kind] = body
        if resources:
            resources.sort()
            parts["resources"] = (
                b"{" + b",".join(canonical(t) + b":" + v for t, v in resources) + b"}"
            )
        doc = b"{" + b",".join(canonical(k) + b":" + parts[k] for k in sorted(parts)) + b"}"
        for segment in reversed(self.root):
            doc = b"{" + canonical(segment) + b":" + doc + b"}"
        return doc

    def patch_json(self, since: int, max_ops: int) -> bytes | None:
        """`patch.json` taking a client at revision `since` to this one, or None when a delta
        cannot (too old, too many operations)."""
        if since < self.delta_floor or since >= self.revision:
            return None
        ops: list[bytes] = []
        for (section, key), entry in sorted(self.entries.items()):
            if entry.revision <= since:
                continue
            if len(ops) >= max_ops:
                return None
            path = canonical(pointer(self.root, section, key))
            if entry.removed:
                ops.append(b'{"op":"remove","path":' + path + b"}")
            else:
                ops.append(b'{"op":"upsert","path":' + path + b',"value":' + entry.body + b"}")
        return b'{"data":[' + b",".join(ops) + b"]}"


def pointer(root: tuple[str, ...], section: str, key: str) -> str:
    """The data path of an entry, each segment escaped as OPA unescapes patch paths."""
    segments = [*root, *section.split("/", 1), key]
    return "/" + "/".join(quote(s, safe="@:+!$&'()*,;=") for s in segments)


def etag_of(revision: int, content_hash: str) -> str:
    """A revision's ETag (quoted)."""
    return f'"{revision}-{content_hash[:16]}"'


def parse_etag(header: str | None) -> tuple[int, str] | None:
    """(revision, hash prefix) of an If-None-Match value we issued, or None for anything else."""
    if not header:
        return None
    value = header.split(",")[0].strip()
    value = value.removeprefix("W/").strip('"')
    revision, _, prefix = value.partition("-")
    if not revision.isdigit() or len(prefix) != 16 or len(revision) > 18:
        return None
    return int(revision), prefix
