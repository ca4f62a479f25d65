"""Secrets: write-only API, sealed storage, audited reveal, key rotation, wrong master keys."""

import os
import stat

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from gatehouse.audit.context import Actor
from gatehouse.config import ConfigError, Settings
from gatehouse.kit.crypto import DecryptionError, b64e
from gatehouse.secrets import service
from gatehouse.secrets.keyring import load_keyring
from gatehouse.secrets.models import EncryptionKey, Secret
from tests.conftest import BOTH, Harness, started

VALUE = "s3cr3t-Value-that-must-never-leak"


@BOTH
async def test_put_list_get_delete_never_return_value(harness: Harness) -> None:
    """Values go in and never come out; replacing keeps one row."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "secrets:write"))
    c = harness.client
    created = await c.put("/v1/secrets/db-password", json={"value": VALUE}, headers=auth)
    assert created.status_code == 201, created.text
    replaced = await c.put(
        "/v1/secrets/db-password", json={"value": VALUE + "2", "description": "d"}, headers=auth
    )
    assert replaced.status_code == 200
    listed = await c.get("/v1/secrets", headers=auth)
    one = await c.get("/v1/secrets/db-password", headers=auth)
    for resp in (created, replaced, listed, one):
        assert VALUE not in resp.text
    assert [s["name"] for s in listed.json()["items"]] == ["db-password"]
    assert one.json()["key_id"] == harness.svc.keys.active
    assert (await c.delete("/v1/secrets/db-password", headers=auth)).status_code == 204
    assert (await c.get("/v1/secrets/db-password", headers=auth)).status_code == 404
    bad = await c.put("/v1/secrets/bad name!", json={"value": "x"}, headers=auth)
    assert bad.status_code == 422


@BOTH
async def test_stored_sealed_and_bound_to_its_row(harness: Harness) -> None:
    """The column holds ciphertext; moving it to another name does not decrypt."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "secrets:write"))
    await harness.client.put("/v1/secrets/a", json={"value": VALUE}, headers=auth)
    async with harness.svc.db.transaction(write=False) as s:
        stored = (await s.execute(text("SELECT ciphertext FROM secrets"))).scalar_one()
    assert VALUE not in stored
    assert stored.startswith("ghx1.")
    with pytest.raises(DecryptionError):
        harness.svc.keys.decrypt(stored, service.context("acme", "b"))
    with pytest.raises(DecryptionError):
        harness.svc.keys.decrypt(stored, service.context("other", "a"))


@BOTH
async def test_reveal_is_audited(harness: Harness) -> None:
    """Reading a credential leaves an audit entry naming the purpose."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "admin:*"))
    await harness.client.put("/v1/secrets/api", json={"value": VALUE}, headers=auth)
    actor = Actor("acme", "connector:test")
    async with harness.svc.db.transaction() as s:
        plain = await service.reveal(s, harness.svc.keys, actor, "api", "connection test")
    assert plain == VALUE
    entry = (await harness.client.get("/pip/audit/logs", headers=auth)).json()["items"][0]
    assert (entry["action"], entry["actor"], entry["after"]) == (
        "secret.read",
        "connector:test",
        {"purpose": "connection test"},
    )


@BOTH
async def test_rotation_reencrypts_and_prune_destroys_old_keys(harness: Harness) -> None:
    """After rotation every secret uses the new key and still opens; prune drops the old key."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "secrets:write"))
    for name in ("one", "two"):
        await harness.client.put(f"/v1/secrets/{name}", json={"value": VALUE + name}, headers=auth)
    ring = harness.svc.keys
    old = ring.active
    async with harness.svc.db.transaction() as s:
        assert await service.rotate(s, ring) == 2
    assert ring.active != old
    async with harness.svc.db.transaction() as s:
        rows = (
            await s.execute(select(Secret).execution_options(gatehouse_all_tenants=True))
        ).scalars()
        for row in rows:
            assert ring.key_of(row.ciphertext) == ring.active
            assert ring.decrypt(
                row.ciphertext, service.context(row.tenant_id, row.name)
            ).startswith(VALUE)
        assert await service.prune(s, ring) == [old]
        kids = (await s.execute(select(EncryptionKey.id))).scalars().all()
    assert kids == [ring.active]


async def test_key_file_and_store_are_private_and_reused(settings: Settings) -> None:
    """The key file and the SQLite store are owner-only; the key is read back on restart."""
    async with started(settings) as h:
        first = h.svc.keys.active
    assert stat.S_IMODE(os.stat(settings.key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(settings.home / "gatehouse.db").st_mode) == 0o600
    async with started(settings) as h:
        assert h.svc.keys.active == first


async def test_wrong_master_key_stops_startup_and_changes_nothing(settings: Settings) -> None:
    """A different master key is a clear error; the key ring and key file stay as they were."""
    async with started(settings) as h:
        await h.tenant("acme")
        auth = h.auth(await h.token("acme", "secrets:write"))
        await h.client.put("/v1/secrets/x", json={"value": VALUE}, headers=auth)
        async with h.svc.db.transaction(write=False) as s:
            before = (await s.execute(select(EncryptionKey.id, EncryptionKey.wrapped))).all()
    key_file = settings.key_file.read_text()
    wrong = settings.model_copy(update={"master_key": SecretStr(b64e(os.urandom(32)))})
    with pytest.raises(ConfigError, match="not the key this database was encrypted with"):
        async with started(wrong):
            pass
    missing_file = settings.model_copy()
    settings.key_file.rename(settings.key_file.with_suffix(".bak"))
    with pytest.raises(ConfigError, match="there is no master key"):
        async with started(missing_file):
            pass
    assert not settings.key_file.exists()
    settings.key_file.with_suffix(".bak").rename(settings.key_file)
    assert settings.key_file.read_text() == key_file
    async with started(settings) as h:
        async with h.svc.db.transaction(write=False) as s:
            after = (await s.execute(select(EncryptionKey.id, EncryptionKey.wrapped))).all()
            assert after == before
            ring = await load_keyring(s, settings)
        assert ring.active == before[0][0]


async def test_malformed_master_key_is_named() -> None:
    """A master key that is not 32 bytes of base64 names the variable."""
    from gatehouse.secrets.keyring import load_master_key

    with pytest.raises(ConfigError, match="GATEHOUSE_MASTER_KEY"):
        load_master_key(Settings(master_key="too-short", _env_file=None), create=True)  # type: ignore[call-arg]


async def test_readable_key_file_is_refused(settings: Settings) -> None:
    """A key file others can read is refused with the chmod to run."""
    from gatehouse.secrets.keyring import load_master_key

    load_master_key(settings, create=True)
    settings.key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_master_key(settings, create=True)


async def test_rotation_and_prune_under_a_running_server(harness: Harness) -> None:
    """A server whose ring predates a rotate + prune writes with the new key, never a dead one."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "admin:*"))
    await harness.client.put("/v1/secrets/before", json={"value": VALUE}, headers=auth)
    stale = harness.svc.keys.active
    async with harness.svc.db.transaction() as s:  # what `gatehouse keys rotate|prune` does
        other = await load_keyring(s, harness.svc.settings)
        await service.rotate(s, other)
    async with harness.svc.db.transaction() as s:
        assert await service.prune(s, other) == [stale]
    assert harness.svc.keys.active == stale  # the server has not noticed yet
    put = await harness.client.put("/v1/secrets/after", json={"value": VALUE}, headers=auth)
    assert put.json()["key_id"] == other.active
    actor = Actor("acme", "test")
    async with harness.svc.db.transaction() as s:
        for name in ("before", "after"):
            assert await service.reveal(s, harness.svc.keys, actor, name, "check") == VALUE
        assert await service.rotate(s, harness.svc.keys) == 2
