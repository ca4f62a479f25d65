"""Request bodies as OPA sends them: gzip-compressed (decision logs) or plain JSON."""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from gatehouse.kit.problems import Problem

GZIP_MAGIC = b"\x1f\x8b"
GZIP_NAMES = frozenset({"gzip", "x-gzip"})
PLAIN_NAMES = frozenset({"", "identity"})


def decode(raw: bytes, encoding: str, limit: int, hint: str) -> bytes:
    """The body with its Content-Encoding undone, refusing more than `limit` bytes of output."""
    name = encoding.strip().lower()
    if name in PLAIN_NAMES and not raw.startswith(GZIP_MAGIC):
        if len(raw) > limit:
            raise _too_large(limit, hint)
        return raw
    if name not in GZIP_NAMES | PLAIN_NAMES:
        raise Problem(
            415,
            f"Content-Encoding {encoding!r} is not supported: send gzip (as OPA does) or none.",
        )
    if not raw.startswith(GZIP_MAGIC):
        raise Problem(400, "The body is declared gzip (Content-Encoding) but is not gzip data.")
    return gunzip(raw, limit, hint)


def gunzip(data: bytes, limit: int, hint: str) -> bytes:
    """Decompress every gzip member of `data`, never producing more than `limit` bytes."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        try:
            while pending:
                # max_length bounds the output of this call; what it did not read stays pending.
                out += inflater.decompress(pending, limit - len(out) + 1)
                if len(out) > limit:
                    raise _too_large(limit, hint)
                pending = inflater.unconsumed_tail
        except zlib.error as exc:
            raise Problem(400, f"The body is not valid gzip data ({exc}).") from None
        if not inflater.eof:
            raise Problem(400, "The gzip data is truncated: the body ended before its end.")
        rest = inflater.unused_data
        if not rest.strip(b"\x00"):  # gzip writers may pad the last member with zeros
            break
    return bytes(out)


def parse_json(body: bytes) -> Any:
    """The JSON document of a body, or 400 saying where it breaks."""
    if not body.strip():
        raise Problem(400, "The body is empty: send a JSON document.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"The body is not valid JSON ({exc}).") from None


def _too_large(limit: int, hint: str) -> Problem:
    return Problem(413, f"The body decompresses to more than {limit} bytes. {hint}".strip())
