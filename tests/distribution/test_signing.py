"""Signed bundles, verified the way OPA verifies them; key management and its guards."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.distribution.models import SigningKey
from tests.distribution.conftest import Org, unpack
from tests.distribution.opa_verify import VerificationError, verify

KEYS = "/v1/distribution/keys"


async def _keys(org: Org) -> dict[str, tuple[str, str]]:
    r = await org.h.client.get(KEYS, headers=org.headers())
    assert r.status_code == 200
    return {k["key_id"]: (k["algorithm"], k["public_key"]) for k in r.json()}


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_signed_bundle_verifies_as_opa_does(org: Org, algorithm: str) -> None:
    """Each file's hash is in the JWT, signed by the tenant's key with its id and scope."""
    body = {"algorithm": algorithm, "key_id": "acme-1", "scope": "read"}
    r = await org.h.client.post(KEYS, json=body, headers=org.headers(org.admin))
    assert r.status_code == 201, r.text
    assert "PRIVATE" not in r.text
    await org.patch_user(org.users["alice"], "title", 'Ünïcode <&> \u2028 "quoted"')
    files = unpack((await org.bundle()).content)
    claims = verify(files, await _keys(org), scope="read")
    assert claims["keyid"] == "acme-1"
    assert {f["name"] for f in claims["files"]} == {".manifest", "data.json"}
    with pytest.raises(VerificationError, match="scope"):
        verify(files, await _keys(org), scope="write")
    tampered = dict(files)
    doc = json.loads(files["data.json"])
    doc["gatehouse"]["users"][org.users["bob"]]["title"] = "Admin"
    tampered["data.json"] = json.dumps(doc).encode()
    with pytest.raises(VerificationError, match="digest mismatch"):
        verify(tampered, await _keys(org), scope="read")


async def test_rotation_and_retired_keys(org: Org) -> None:
    """Rotating signs new bundles with a new key; the old one is retired, then deletable."""
    await org.h.client.post(KEYS, json={"key_id": "k1"}, headers=org.headers(org.admin))
    etag = (await org.bundle()).headers["etag"]
    r = await org.h.client.post(f"{KEYS}/rotate", headers=org.headers(org.admin))
    assert r.status_code == 201
    new_id = r.json()["key_id"]
    listed = {
        k["key_id"]: k["status"]
        for k in (await org.h.client.get(KEYS, headers=org.headers())).json()
    }
    assert listed == {"k1": "retired", new_id: "active"}
    fresh = await org.bundle(**{"If-None-Match": etag})
    assert fresh.status_code == 200  # a new key is a new revision: nobody keeps the old one
    claims = verify(unpack(fresh.content), await _keys(org), scope="")
    assert claims["keyid"] == new_id
    active = await org.h.client.delete(f"{KEYS}/{new_id}", headers=org.headers(org.admin))
    assert active.status_code == 409
    assert (
        await org.h.client.delete(f"{KEYS}/k1", headers=org.headers(org.admin))
    ).status_code == 204


async def test_keys_are_sealed_scoped_and_isolated(org: Org) -> None:
    """Private keys are encrypted at rest; reading needs bundles:read, writing bundles:write;
    another tenant sees none of them."""
    denied = await org.h.client.post(KEYS, json={}, headers=org.headers())
    assert denied.status_code == 403
    await org.h.client.post(KEYS, json={"key_id": "sealed"}, headers=org.headers(org.admin))
    async with org.h.svc.db.transaction(write=False) as s:
        rows = (
            (await s.execute(select(SigningKey).execution_options(**{ALL_TENANTS: True})))
            .scalars()
            .all()
        )
    assert len(rows) == 1 and rows[0].private_sealed.startswith("ghx1.")
    assert "PRIVATE KEY" not in rows[0].private_sealed
    await org.h.tenant("other")
    other = await org.h.token("other", "admin:*")
    assert (await org.h.client.get(KEYS, headers=org.headers(other))).json() == []
    gone = await org.h.client.delete(f"{KEYS}/sealed", headers=org.headers(other))
    assert gone.status_code == 404
    bad = await org.h.client.post(KEYS, json={"algorithm": "HS256"}, headers=org.headers(org.admin))
    assert bad.status_code == 422
    taken = await org.h.client.post(KEYS, json={"key_id": "sealed"}, headers=org.headers(org.admin))
    assert taken.status_code == 409


async def test_signed_tenant_gets_signed_snapshot_not_delta(org: Org) -> None:
    """OPA verifies no delta bundle, so a tenant with a signing key never serves one: an OPA
    asking for a delta gets the full bundle, signed."""
    r = await org.h.client.post(KEYS, json={"key_id": "k1"}, headers=org.headers(org.admin))
    assert r.status_code == 201, r.text
    old = (await org.bundle()).headers["etag"]
    await org.patch_user(org.users["alice"], "title", "Principal")
    answer = await org.bundle(**{"If-None-Match": old, "Prefer": "modes=snapshot,delta"})
    assert answer.status_code == 200
    files = unpack(answer.content)
    assert "patch.json" not in files and "data.json" in files
    assert json.loads(files[".manifest"]).get("delta") is not True
    claims = verify(files, await _keys(org), scope="")
    assert claims["keyid"] == "k1"
