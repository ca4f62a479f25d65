"""`opal.published`: written with the record of a DataUpdate the OPAL server took; never for an
attempt it refused."""

from __future__ import annotations

from typing import Any

from tests.conftest import BOTH
from tests.distribution.conftest import Org
from tests.events.outbox import payloads
from tests.opal.conftest import Recorder, configure, eventually, opal_status

pytestmark = BOTH


async def announced(org: Org) -> list[dict[str, Any]]:
    """The tenant's `opal.published` data, oldest first, each checked on its schema."""
    return await payloads(org.h.svc.db, org.tenant, "opal.published")


async def test_a_delivery_is_announced_a_refusal_is_not(org: Org, opal_server: Recorder) -> None:
    """While OPAL answers 503 nothing is announced; once it takes the update, one event says
    which update, revision and topics, after how many attempts."""
    opal_server.status = 503
    assert (await configure(org, opal_server.url)).status_code == 200

    async def refused_twice() -> Any:
        top = (await opal_status(org))["publishes"]
        return top[0] if top and top[0]["attempts"] >= 2 else None

    stuck = await eventually(refused_twice)
    assert await announced(org) == []
    opal_server.status = 200

    async def delivered() -> Any:
        return (await opal_status(org))["last_delivered"]

    done = await eventually(delivered)
    (event,) = await eventually(lambda: announced(org))
    assert (event["update_id"], event["revision"]) == (done["id"], done["revision"])
    assert event["update_id"] == stuck["id"] == opal_server.updates[-1]["id"]
    assert (event["tenant"], event["trigger"], event["response_status"]) == ("acme", "change", 200)
    assert event["topics"] == ["gatehouse:acme"]
    assert event["attempts"] >= 3 and event["reason"].startswith("data document revision")
    assert "opal-datasource-secret" not in str(event) and "gth_fetch_secret" not in str(event)
