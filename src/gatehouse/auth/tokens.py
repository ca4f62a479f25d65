"""The token format: gth_ + 43 base62 characters of randomness + a 6-character checksum."""

from __future__ import annotations

import re
import secrets
import zlib

PREFIX = "gth_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LEN = 43  # 62**43 > 2**256: at least 32 bytes of entropy
CHECK_LEN = 6
TOKEN_LEN = len(PREFIX) + BODY_LEN + CHECK_LEN
DISPLAY_LEN = len(PREFIX) + 8


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def checksum(body: str) -> str:
    """CRC-32 of the random part, in six base62 characters."""
    return _base62(zlib.crc32(body.encode()), CHECK_LEN)


def generate() -> str:
    """A new random token."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LEN))
    return PREFIX + body + checksum(body)


SHAPE = re.compile(rf"{PREFIX}[0-9A-Za-z]{{{BODY_LEN + CHECK_LEN}}}")


def well_formed(token: str) -> bool:
    """Whether a string has the token's shape and a matching checksum (no database needed)."""
    if SHAPE.fullmatch(token) is None:
        return False
    body = token[len(PREFIX) : len(PREFIX) + BODY_LEN]
    return secrets.compare_digest(token[-CHECK_LEN:], checksum(body))


def display_prefix(token: str) -> str:
    """The part of a token that may be shown to identify it."""
    return token[:DISPLAY_LEN]
