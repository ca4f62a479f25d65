"""The data documents OPAL clients fetch: the hub's document below its root, or a part of it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from cachetools import LRUCache

from gatehouse.distribution.fragments import canonical
from gatehouse.distribution.hub import Distribution
from gatehouse.kit.problems import Problem

MISSING = object()


@dataclass(frozen=True, slots=True)
class Served:
    """A document (or part) at one revision, encoded."""

    etag: str
    revision: int
    body: bytes
    root: tuple[str, ...]


def too_large(size: int, limit: int) -> Problem:
    """The refusal of a document over the OPAL limit."""
    return Problem(
        422,
        f"The data document is {size} bytes, over the OPAL limit of {limit} "
        "(GATEHOUSE_OPAL_MAX_DOCUMENT_BYTES): fetch parts of it (/opal/pip-data/{tenant}/{path}), "
        "include fewer streams or fields (PUT /v1/distribution/config), or raise the limit.",
        title="Data document too large",
        size_bytes=size,
        limit_bytes=limit,
    )


def below(doc: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` inside `doc`, or MISSING."""
    for segment in path:
        if not isinstance(doc, dict) or segment not in doc:
            return MISSING
        doc = doc[segment]
    return doc


class OpalDocuments:
    """Documents for OPAL clients, built from the distribution hub's snapshot, cached by ETag."""

    def __init__(self, hub: Distribution, limit: int) -> None:
        self.hub, self.limit = hub, limit
        self.cache: LRUCache[str, Served] = LRUCache(maxsize=16)

    async def whole(self, tenant: str) -> Served:
        """The tenant's complete document below its root, at its current revision."""
        await self.hub.current(tenant)
        snap = await self.hub.snapshot(tenant)
        key = f"{tenant}\0{snap.etag}"
        found = self.cache.get(key)
        if found is None:
            body = await asyncio.to_thread(lambda: unwrap(snap.data_json(), snap.root))
            found = Served(snap.etag, snap.revision, body, snap.root)
            self.cache[key] = found
        if len(found.body) > self.limit:
            raise too_large(len(found.body), self.limit)
        return found

    async def part(self, tenant: str, path: str) -> Served:
        """The sub-document at a slash-separated path below the root, or 404."""
        doc = await self.whole(tenant)
        segments = tuple(s for s in path.split("/") if s)
        if not segments:
            return doc
        key = f"{tenant}\0{doc.etag}\0{'/'.join(segments)}"
        found = self.cache.get(key)
        if found is None:
            value = below(await asyncio.to_thread(orjson.loads, doc.body), segments)
            if value is MISSING:
                raise Problem(404, f"The data document has nothing at {path!r}.")
            found = Served(doc.etag, doc.revision, canonical(value), doc.root)
            self.cache[key] = found
        return found


def unwrap(data: bytes, root: tuple[str, ...]) -> bytes:
    """The document inside its root segments, cut out of the assembled bytes (not re-parsed)."""
    prefix = b"".join(b"{" + canonical(segment) + b":" for segment in root)
    if not data.startswith(prefix) or not data.endswith(b"}" * len(root)):
        raise ValueError("the assembled document is not wrapped in its root")
    return data[len(prefix) : len(data) - len(root)]
