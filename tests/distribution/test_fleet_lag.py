"""The fleet status compares each OPA's active bundle revision with what /bundles serves."""

from __future__ import annotations

import json
from typing import Any

from tests.distribution.conftest import Org, unpack
from tests.fleet.conftest import status_report


async def manifest_revision(org: Org) -> str:
    """The revision in the current bundle's manifest, as OPA activates it."""
    r = await org.bundle()
    assert r.status_code == 200, r.text
    return str(json.loads(unpack(r.content)[".manifest"])["revision"])


async def lag(org: Org, reporter: str, reader: str, revision: str) -> dict[str, Any]:
    """Report `revision` as active for opa-1, then read its bundle's line in the fleet status."""
    sent = await org.h.client.post(
        "/opa/status", json=status_report("opa-1", revision), headers=org.h.auth(reporter)
    )
    assert sent.status_code == 200, sent.text
    seen = await org.h.client.get("/v1/distribution/status", headers=org.h.auth(reader))
    assert seen.status_code == 200, seen.text
    bundles: list[dict[str, Any]] = seen.json()["items"][0]["bundles"]
    return bundles[0]


async def test_an_opa_on_an_older_revision_is_behind(org: Org) -> None:
    reporter = await org.h.token(org.tenant, "fleet:report")
    reader = await org.h.token(org.tenant, "fleet:read")
    first = await manifest_revision(org)
    line = await lag(org, reporter, reader, first)
    assert (line["behind"], line["revisions_behind"], line["served_revision"]) == (False, 0, first)
    await org.patch_user(org.users["bob"], "title", "Auditor")
    second = await manifest_revision(org)
    assert second != first
    line = await lag(org, reporter, reader, first)
    assert (line["behind"], line["revisions_behind"], line["served_revision"]) == (
        True,
        int(second.split("-")[0]) - int(first.split("-")[0]),
        second,
    )
    assert line["behind_since"] is not None
    line = await lag(org, reporter, reader, "not-ours")
    assert (line["behind"], line["revisions_behind"]) == (True, None)
