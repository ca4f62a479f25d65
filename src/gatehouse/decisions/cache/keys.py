"""Cache keys: the engine's revisions, the path and a digest of the canonical (enriched) input."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import orjson


class Key(NamedTuple):
    """Where one answer is kept (the tenant is the namespace, not part of the key)."""

    policy_revision: str
    data_revision: str
    # The engine generation in this process (memory keys only: Redis keys are shared).
    generation: int
    path: str
    digest: str


# The last input digested and its JSON: the engine that evaluates that same input next (a cache
# miss) takes the JSON from here instead of serialising the input a second time.
_last: tuple[Any, bytes] = (None, b"null")


def digest(input: Any) -> str:
    """A digest of the input as canonical JSON (sorted keys): equal inputs, equal digests."""
    global _last
    raw = orjson.dumps(input, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    _last = (input, raw)
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def encoded(input: Any) -> bytes:
    """The input as JSON: the digest's, when this very object was the last digested."""
    held, raw = _last
    return raw if held is input else orjson.dumps(input)


def redis_key(prefix: str, tenant: str, key: Key) -> str:
    """The Redis key of an answer: namespaced per tenant, then revisions, path and digest (not
    the generation: its number is this process's own)."""
    return f"{prefix}{tenant}:{key.policy_revision}:{key.data_revision}:{key.path}:{key.digest}"
