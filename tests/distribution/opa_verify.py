"""OPA's bundle signature verification, step by step as its docs and reader describe it.

Written independently of Gatehouse's signer: the JWT is checked with PyJWT, JSON files are
parsed and re-encoded the way OPA's hasher walks them (sorted keys, Go's encoding of strings,
numbers as written), other files are hashed as bytes.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import jwt

STRUCTURED = {"data.json", "data.yaml", ".manifest", ".signatures.json"}


class VerificationError(Exception):
    """The bundle would not activate in OPA."""


class Number(str):
    """A JSON number kept as written (OPA decodes with UseNumber)."""


def _go_string(value: str) -> str:
    # encoding/json with SetEscapeHTML(false): \", \\, \n, \r, \t, \b, \f, other controls as
    # \u00xx, and U+2028/U+2029 escaped; everything else (non-ASCII included) as is.
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t\b\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}[ch])
        elif code < 0x20 or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _walk(value: Any, h: Any) -> None:
    if isinstance(value, dict):
        h.update(b"{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode())):
            if i:
                h.update(b",")
            h.update(_go_string(key).encode())
            h.update(b":")
            _walk(value[key], h)
        h.update(b"}")
    elif isinstance(value, list):
        h.update(b"[")
        for i, item in enumerate(value):
            if i:
                h.update(b",")
            _walk(item, h)
        h.update(b"]")
    elif isinstance(value, Number):
        h.update(str(value).encode())
    elif isinstance(value, str):
        h.update(_go_string(value).encode())
    elif value is True:
        h.update(b"true")
    elif value is False:
        h.update(b"false")
    elif value is None:
        h.update(b"null")
    else:
        raise TypeError(type(value))


def opa_hash(name: str, content: bytes) -> str:
    """The SHA-256 OPA computes for a bundle file."""
    h = hashlib.sha256()
    if name.rsplit("/", 1)[-1] in STRUCTURED:
        parsed = json.loads(content, parse_int=Number, parse_float=lambda s: Number(s))
        _walk(parsed, h)
    else:
        h.update(content)
    return h.hexdigest()


def verify(files: dict[str, bytes], keys: dict[str, tuple[str, str]], scope: str) -> dict[str, Any]:
    """Verify a snapshot bundle as OPA does; `keys` is keyid → (algorithm, public PEM)."""
    if ".signatures.json" not in files:
        raise VerificationError("bundle missing .signatures.json file")
    tokens = json.loads(files[".signatures.json"])["signatures"]
    if len(tokens) != 1:
        raise VerificationError("expected exactly one JWT")
    unverified = jwt.decode(tokens[0], options={"verify_signature": False})
    key_id = unverified.get("keyid", "")
    if key_id not in keys:
        raise VerificationError(f"verification key {key_id!r} not found")
    algorithm, public = keys[key_id]
    try:
        claims = jwt.decode(tokens[0], public, algorithms=[algorithm])
    except jwt.InvalidTokenError as exc:
        raise VerificationError(str(exc)) from None
    if claims.get("scope", "") != scope:
        raise VerificationError("scope mismatch")
    expected = {f["name"]: f for f in claims["files"]}
    for name, content in files.items():
        if name == ".signatures.json":
            continue
        entry = expected.pop(name, None)
        if entry is None:
            raise VerificationError(f"file {name} not included in bundle signature")
        if entry.get("algorithm") != "SHA-256":
            raise VerificationError("unsupported hashing algorithm")
        if opa_hash(name, content) != entry["hash"]:
            raise VerificationError(f"{name}: digest mismatch")
    if expected:
        raise VerificationError(f"file(s) {sorted(expected)} specified but not found")
    return claims


assert (
    opa_hash("x/data.json", b'{"b": 1.50, "a": "\\u003c\\u2028"}')
    == hashlib.sha256(b'{"a":"<\\u2028","b":1.50}').hexdigest()
)
assert Decimal  # numbers are compared as written, never re-formatted
