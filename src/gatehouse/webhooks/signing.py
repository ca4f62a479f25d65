"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence

PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_HEADERS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature"})


def new_secret() -> str:
    """A fresh signing secret in the `whsec_<base64>` form receivers' libraries accept."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def keyed(secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 already keyed with a secret; copy it to sign (the key is set up once)."""
    return hmac.new(base64.b64decode(secret.removeprefix(PREFIX)), digestmod=hashlib.sha256)


def sign(key: hmac.HMAC, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,...` signature of a message under one keyed HMAC."""
    mac = key.copy()
    mac.update(f"{msg_id}.{timestamp}.".encode())
    mac.update(body)
    return "v1," + base64.b64encode(mac.digest()).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,...` signature of a message under one secret."""
    return sign(keyed(secret), msg_id, timestamp, body)


def signed(keys: Sequence[hmac.HMAC], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three signature headers under keyed HMACs; one signature each, space separated."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(k, msg_id, timestamp, body) for k in keys),
    }


def headers(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three signature headers; one signature per secret, space separated."""
    return signed([keyed(s) for s in secrets_], msg_id, timestamp, body)
