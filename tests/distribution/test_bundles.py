"""OPA's bundle protocol: ETag/304, long polling, deltas, access, faults."""

from __future__ import annotations

import asyncio
import json

import pytest

from gatehouse.distribution.api import preferences
from tests.conftest import Harness, started
from tests.distribution.conftest import Org, unpack

LONG_POLL = "application/vnd.openpolicyagent.bundles"


async def test_etag_and_304(org: Org) -> None:
    """The ETag comes back as 304 until the store changes; the manifest carries the revision."""
    first = await org.bundle()
    assert first.status_code == 200 and first.headers["content-type"] == "application/gzip"
    etag = first.headers["etag"]
    files = unpack(first.content)
    manifest = json.loads(files[".manifest"])
    assert manifest["revision"] == etag.strip('"') and manifest["roots"] == ["gatehouse"]
    assert manifest["metadata"]["gatehouse"]["tenant"] == "acme"
    again = await org.bundle(**{"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    await org.patch_user(org.users["bob"], "title", "Manager")
    changed = await org.bundle(**{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    doc = json.loads(unpack(changed.content)["data.json"])
    assert doc["gatehouse"]["users"][org.users["bob"]]["title"] == "Manager"


async def test_corrupt_and_foreign_etags_get_a_full_bundle(org: Org, harness: Harness) -> None:
    """An ETag that is not one of ours (or names a revision we never had) gets a full bundle."""
    delta = {"Prefer": "modes=snapshot,delta"}
    for bad in ('"garbage"', "W/", '"999999-0123456789abcdef"', '"1-0000000000000000"', "*"):
        r = await org.bundle(**{"If-None-Match": bad, **delta})
        assert r.status_code == 200, bad
        assert "data.json" in unpack(r.content) and "patch.json" not in unpack(r.content)


async def test_access_needs_the_tenants_bundles_token(org: Org, harness: Harness) -> None:
    """No token 401; a token without bundles:read 403; another tenant's or an unknown tenant 404,
    both saying the same thing."""
    anonymous = await harness.client.get(f"/bundles/{org.tenant}")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    scim_only = await harness.token(org.tenant, "scim:read")
    assert (await org.bundle(scim_only)).status_code == 403
    await harness.tenant("other")
    outsider = await harness.token("other", "bundles:read")
    theirs = await org.bundle(outsider)
    missing = await harness.client.get("/bundles/nobody", headers=org.headers(outsider))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == missing.json()["detail"]
    assert "alice" not in theirs.text
    # The other tenant's own bundle holds none of acme's people.
    mine = await harness.client.get("/bundles/other", headers=org.headers(outsider))
    assert json.loads(unpack(mine.content)["data.json"])["gatehouse"]["users"] == {}


async def test_long_poll_is_woken_by_a_scim_patch(org: Org) -> None:
    """A client waiting on the current ETag gets the new revision as soon as it exists."""
    current = (await org.bundle()).headers["etag"]
    waiting = asyncio.create_task(
        org.bundle(**{"If-None-Match": current, "Prefer": "modes=snapshot,delta;wait=60"})
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await org.patch_user(org.users["alice"], "title", "Lead")
    answer = await asyncio.wait_for(waiting, 30)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == LONG_POLL
    assert answer.headers["etag"] != current
    patch = json.loads(unpack(answer.content)["patch.json"])
    alice = f"/gatehouse/users/{org.users['alice']}"
    assert [(op["op"], op["path"]) for op in patch["data"]] == [("upsert", alice)]
    assert patch["data"][0]["value"]["title"] == "Lead"


async def test_long_poll_without_change_answers_304(org: Org) -> None:
    """When nothing changes within `wait`, the answer is 304 with the long-poll content type."""
    current = (await org.bundle()).headers["etag"]
    r = await org.bundle(**{"If-None-Match": current, "Prefer": "wait=1"})
    assert r.status_code == 304 and r.headers["content-type"] == LONG_POLL


async def test_delta_for_recent_clients_full_otherwise(org: Org) -> None:
    """A delta goes to clients that accept one; removals are remove operations; a client behind
    a configuration change gets a full bundle."""
    old = (await org.bundle()).headers["etag"]
    await org.scim("DELETE", f"Users/{org.users['bob']}")
    delta = await org.bundle(**{"If-None-Match": old, "Prefer": "modes=snapshot,delta"})
    files = unpack(delta.content)
    assert set(files) == {".manifest", "patch.json"}
    assert json.loads(files[".manifest"])["delta"] is True
    ops = json.loads(files["patch.json"])["data"]
    assert ops == [{"op": "remove", "path": f"/gatehouse/users/{org.users['bob']}"}]
    snapshot_only = await org.bundle(**{"If-None-Match": old, "Prefer": "modes=snapshot"})
    assert "data.json" in unpack(snapshot_only.content)
    before_config = delta.headers["etag"]
    r = await org.h.client.put(
        "/v1/distribution/config", json={"root": "acme/identity"}, headers=org.headers(org.admin)
    )
    assert r.status_code == 200, r.text
    full = await org.bundle(**{"If-None-Match": before_config, "Prefer": "modes=snapshot,delta"})
    files = unpack(full.content)
    assert "data.json" in files and json.loads(files[".manifest"])["roots"] == ["acme/identity"]
    assert org.users["alice"] in json.loads(files["data.json"])["acme"]["identity"]["users"]


async def test_oversize_document_is_refused_clearly(settings: object) -> None:
    """A document over the configured limit is a problem naming the limit, not a broken bundle."""
    settings.distribution_max_document_bytes = 1024  # type: ignore[attr-defined]
    async with started(settings) as h:  # type: ignore[arg-type]
        o = Org(h, await h.tenant("big"), "", "", {}, {})
        o.admin = await h.token("big", "admin:*")
        o.reader = await h.token("big", "bundles:read")
        for n in range(12):
            await o.add_user(f"user-{n:02d}-with-a-long-name", title="x" * 60)
        r = await o.bundle()
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["limit_bytes"] == 1024 and r.json()["size_bytes"] > 1024


@pytest.mark.parametrize(
    "header",
    [
        "modes=snapshot,delta;wait=3",
        "wait=3, modes=snapshot,delta",
        "wait=3;modes=snapshot,delta",
        'modes="snapshot,delta", wait=3',
        "Wait=3 , Modes=snapshot , delta",
    ],
)
def test_prefer_header_forms(header: str) -> None:
    """RFC 7240's comma-separated form and OPA's semicolon form read alike."""
    assert preferences(header, 60) == (3.0, {"snapshot", "delta"})
