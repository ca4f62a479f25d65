"""Masking of secret values before they reach logs, audit rows or responses."""

from __future__ import annotations

import functools
import re
from typing import Any

MASK = "***"
# Keys that name a secret: `password`, `client_secret`, `access_token`, `api-key`, ...
# (but not `token_id` or `tokens_revoked`, which name counts and ids).
SECRET_KEY = re.compile(
    r"(^|[_-])(pass(word|wd|phrase)?|secret|token|api[_-]?key|authorization|credentials?"
    r"|private[_-]?key|cookie)$",
    re.IGNORECASE,
)
TOKEN_TEXT = re.compile(r"gth_[A-Za-z0-9]{20,}")


def mask_text(text: str) -> str:
    """Replace anything that looks like a Gatehouse token inside free text."""
    return TOKEN_TEXT.sub("gth_" + MASK, text)


@functools.lru_cache(maxsize=4096)
def secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (cached: the same keys recur in every log line)."""
    return SECRET_KEY.search(key) is not None


def mask(value: Any) -> Any:
    """A copy of `value` with secret-named keys and token-like strings masked."""
    if isinstance(value, str):
        return mask_text(value) if "gth_" in value else value
    if isinstance(value, dict):
        return {
            k: (MASK if v and isinstance(k, str) and secret_key(k) else mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value


# Query parameters of database and Redis URLs that carry secrets: `password`, `sslpassword`,
# `passfile`, `auth_token`, `sslkey`, `secret`, ... (their values are masked, the rest shown).
SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key|auth|cred", re.IGNORECASE)


def mask_url(url: str) -> str:
    """A URL with its userinfo password and secret-named query parameters masked."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, hash_sign, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        creds, _, host = authority.rpartition("@")
        user, colon, _ = creds.partition(":")
        authority = f"{user}:{MASK}@{host}" if colon else f"{user}@{host}"
    if query:
        pairs = []
        for pair in query.split("&"):
            name, equals, value = pair.partition("=")
            secret = equals and value and SECRET_PARAMETER.search(name)
            pairs.append(f"{name}={MASK}" if secret else pair)
        query = "&".join(pairs)
    return f"{scheme}{sep}{authority}{slash}{path}{question}{query}{hash_sign}{fragment}"
