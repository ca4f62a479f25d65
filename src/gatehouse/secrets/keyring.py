"""Envelope encryption: data keys wrapped by the master key, ciphertexts tagged with a key id."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.config import ConfigError, Settings
from gatehouse.kit.crypto import (
    KEY_BYTES,
    DecryptionError,
    b64d,
    b64e,
    new_key,
    open_sealed,
    seal,
)
from gatehouse.kit.ids import new_id
from gatehouse.secrets.models import EncryptionKey

PREFIX = "ghx1"
WRAP_AAD = b"gatehouse:data-key:"


def load_master_key(settings: Settings, *, create: bool) -> bytes | None:
    """The master key from GATEHOUSE_MASTER_KEY or the key file; generate the file if allowed."""
    if settings.master_key is not None:
        return _parse_master(settings.master_key.get_secret_value(), "GATEHOUSE_MASTER_KEY")
    path = settings.key_file
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
            )
        return _parse_master(path.read_text().strip(), str(path))
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(b64e(new_key()) + "\n")
    return _parse_master(path.read_text().strip(), str(path))


def _parse_master(text: str, source: str) -> bytes:
    try:
        key = b64d(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"{source}: must be 32 random bytes in url-safe base64; "
            "generate one with `gatehouse keys generate`"
        )
    return key


class KeyRing:
    """The unwrapped data keys; encrypts with the active one, decrypts with any."""

    def __init__(self, master: bytes, keys: dict[str, bytes], active: str) -> None:
        self._master = master
        self._keys = keys
        self.active = active

    @property
    def key_ids(self) -> list[str]:
        """Ids of every key the ring can decrypt with."""
        return list(self._keys)

    def encrypt(self, plaintext: str, context: str) -> str:
        """Seal `plaintext` bound to `context` (e.g. "secrets:<tenant>:<name>")."""
        sealed = seal(self._keys[self.active], plaintext.encode(), context.encode())
        return f"{PREFIX}.{self.active}.{b64e(sealed)}"

    def decrypt(self, token: str, context: str) -> str:
        """Open a value made by `encrypt` with the same context."""
        try:
            prefix, kid, body = token.split(".", 2)
        except ValueError:
            raise DecryptionError("not a Gatehouse ciphertext") from None
        if prefix != PREFIX or kid not in self._keys:
            raise DecryptionError(f"ciphertext uses unknown key {kid!r}")
        return open_sealed(self._keys[kid], b64d(body), context.encode()).decode()

    def key_of(self, token: str) -> str:
        """The key id a ciphertext was made with."""
        return token.split(".", 2)[1]

    def wrap(self, kid: str, key: bytes) -> str:
        """Seal a data key under the master key."""
        return b64e(seal(self._master, key, WRAP_AAD + kid.encode()))

    def add(self, kid: str, key: bytes) -> None:
        """Make a new data key the active one."""
        self._keys[kid] = key
        self.active = kid

    async def refresh(self, session: AsyncSession) -> None:
        """Catch up with the stored ring: unwrap keys added since, follow the active one."""
        rows = (await session.execute(select(EncryptionKey))).scalars().all()
        for row in rows:
            if row.id not in self._keys:
                self._keys[row.id] = _unwrap(self._master, row)
            if row.status == "active":
                self.active = row.id

    def forget(self, kid: str) -> None:
        """Drop a retired data key from memory."""
        self._keys.pop(kid, None)


async def load_keyring(session: AsyncSession, settings: Settings) -> KeyRing:
    """Open the stored key ring, creating its first key on an empty database."""
    rows = (await session.execute(select(EncryptionKey).order_by(EncryptionKey.id))).scalars().all()
    master = load_master_key(settings, create=not rows)
    if master is None:
        raise ConfigError(
            f"the database holds encrypted data but there is no master key: set "
            f"GATEHOUSE_MASTER_KEY or restore {settings.key_file}; nothing was changed"
        )
    ring = open_ring(master, rows)
    if not rows:
        kid = new_id()
        key = new_key()
        session.add(EncryptionKey(id=kid, wrapped=ring.wrap(kid, key), status="active"))
        ring.add(kid, key)
        await session.flush()
    return ring


class WrappedKey(Protocol):
    """A stored data key: an `encryption_keys` row, mapped or as a plain result row."""

    @property
    def id(self) -> str:
        """The key id."""

    @property
    def wrapped(self) -> str:
        """The key sealed under the master key."""

    @property
    def status(self) -> str:
        """`active` or `retired`."""


def open_ring(master: bytes, rows: Sequence[WrappedKey]) -> KeyRing:
    """The ring of stored data keys, unwrapped with the master key."""
    keys = {row.id: _unwrap(master, row) for row in rows}
    active = next((row.id for row in reversed(rows) if row.status == "active"), "")
    return KeyRing(master, keys, active)


def _unwrap(master: bytes, row: WrappedKey) -> bytes:
    try:
        return open_sealed(master, b64d(row.wrapped), WRAP_AAD + row.id.encode())
    except DecryptionError:
        raise ConfigError(
            "GATEHOUSE_MASTER_KEY (or the key file) is not the key this database was "
            "encrypted with; start with the original key. Nothing was changed."
        ) from None
