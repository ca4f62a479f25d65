"""Publishing DataUpdates to the OPAL server: on change, on request, retried, never lost."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.identity.correlation import policy_of
from gatehouse.identity.ingest import SourceRecord, ingest_identities
from tests.conftest import BOTH, started
from tests.distribution.conftest import Org, acme
from tests.fleet.conftest import audit_of, problem
from tests.opal.conftest import LOOPBACK, Recorder, configure, eventually, opal_status

HR = {
    "host": "127.0.0.1",
    "database": "hr",
    "user": "postgres",
    "password": "x",
    "tls_mode": "disable",
}


async def delivered(org: Org, revision: int | None = None) -> Any:
    """The last delivered publish once there is one (at `revision` or later)."""

    async def check() -> Any:
        last = (await opal_status(org))["last_delivered"]
        if last and (revision is None or last["revision"] >= revision):
            return last
        return None

    return await eventually(check)


@BOTH
async def test_a_change_publishes_a_data_update(org: Org, opal_server: Recorder) -> None:
    """A committed SCIM change reaches OPAL's /data/config as a DataUpdate for the document."""
    assert (await configure(org, opal_server.url)).status_code == 200
    first = await delivered(org)
    await org.patch_user(org.users["bob"], "title", "Boss")
    after = await delivered(org, first["revision"] + 1)
    update = opal_server.updates[-1]
    assert opal_server.auth[-1] == "Bearer opal-datasource-secret"
    assert update["id"] == after["id"]
    assert update["reason"].startswith("data document revision")
    assert update["entries"] == [
        {
            "url": "http://gatehouse.test/opal/pip-data/acme",
            "config": {"headers": {"Authorization": "Bearer gth_fetch_secret"}},
            "topics": ["gatehouse:acme"],
            "dst_path": "/gatehouse",
            "save_method": "PUT",
        }
    ]
    assert update["callback"] == {"callbacks": []}
    # What Gatehouse keeps and shows has no token in it.
    stored = after["update"]["entries"][0]["config"]["headers"]["Authorization"]
    assert "gth_fetch_secret" not in stored
    assert after["status"] == "delivered" and after["attempts"] == 1


@BOTH
async def test_server_down_queues_retries_and_delivers(org: Org, opal_server: Recorder) -> None:
    """While OPAL answers 503 the publish stays pending with its attempts and error; it is
    delivered once OPAL is back."""
    opal_server.status = 503
    assert (await configure(org, opal_server.url)).status_code == 200

    async def failing() -> Any:
        body = await opal_status(org)
        top = body["publishes"][0] if body["publishes"] else None
        return top if top and top["attempts"] >= 2 else None

    stuck = await eventually(failing)
    assert stuck["status"] in ("pending", "sending")
    assert "503" in stuck["last_error"] and stuck["response_status"] == 503
    assert (await opal_status(org))["pending"] == 1
    # Folded into the pending publish, or queued after it when that one was being sent.
    await org.patch_user(org.users["bob"], "title", "Boss")
    revision = (await opal_status(org))["revision"]
    opal_server.status = 200
    done = await delivered(org, revision)
    assert done["attempts"] >= 1 and done["status"] == "delivered"

    async def drained() -> Any:
        body = await opal_status(org)
        return body if body["pending"] == 0 else None

    body = await eventually(drained)
    delivered_ids = {p["id"] for p in body["publishes"] if p["status"] == "delivered"}
    assert stuck["id"] in delivered_ids and 1 <= len(opal_server.updates) <= 2


async def test_nothing_is_lost_across_a_restart(settings: Settings, opal_server: Recorder) -> None:
    """A publish queued while OPAL is down is sent by the next process once OPAL is back."""
    allowed = settings.model_copy(
        update={
            "outbound_allow": LOOPBACK,
            "opal_poll_seconds": 0.05,
            "opal_retry_max_seconds": 0.2,
        }
    )
    opal_server.status = 503
    async with started(allowed) as h:
        org = await acme(h)
        await configure(org, opal_server.url)

        async def tried() -> Any:
            publishes = (await opal_status(org))["publishes"]
            return publishes and publishes[0]["attempts"] >= 1

        await eventually(tried)
        admin = org.admin
    opal_server.status = 200
    async with started(allowed) as h:
        org.h, org.admin = h, admin
        done = await delivered(org)
        assert done["status"] == "delivered"
    assert len(opal_server.updates) == 1


async def test_publish_on_request_for_a_connection(org: Org, opal_server: Recorder) -> None:
    """POST /pip/connections/{id}/publish-to-opal queues the whole document, recorded against
    the connection; its status shows it; disabled publishing is 409; audited."""
    made = await org.h.client.post(
        "/pip/connections",
        json={"name": "hr", "type": "postgresql", "config": HR},
        headers=org.headers(org.admin),
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    url = f"/pip/connections/{cid}/publish-to-opal"
    refused = await org.h.client.post(url, headers=org.headers(org.admin))
    assert "not enabled" in problem(refused, 409)["detail"]
    await configure(org, opal_server.url, callback_url="http://gatehouse.test/opal/reports/acme")
    await delivered(org)
    r = await org.h.client.post(url, headers=org.headers(org.admin))
    assert r.status_code == 202, r.text
    assert r.json()["connection_id"] == cid and r.json()["trigger"] == "manual"

    async def sent() -> Any:
        s = await org.h.client.get(
            f"/pip/connections/{cid}/opal-status", headers=org.headers(org.admin)
        )
        publishes = s.json()["publishes"]
        return publishes if publishes and publishes[0]["status"] == "delivered" else None

    publishes = await eventually(sent)
    assert [p["connection_id"] for p in publishes] == [cid]
    update = opal_server.updates[-1]
    assert update["entries"][0]["url"].endswith("/opal/pip-data/acme")
    assert update["callback"]["callbacks"][0][0] == "http://gatehouse.test/opal/reports/acme"
    missing = await org.h.client.post(
        "/pip/connections/nope/publish-to-opal", headers=org.headers(org.admin)
    )
    problem(missing, 404)
    reader = await org.h.token(org.tenant, "opal:read")
    problem(await org.h.client.post(url, headers=org.headers(reader)), 403)
    actions = [e.action for e in await audit_of(org.h)]
    assert "opal.publish" in actions and "opal.settings" in actions


async def test_changes_within_the_interval_fold_into_one_publish(
    org: Org, opal_server: Recorder
) -> None:
    """The first change goes out at once; later ones wait for the debounce interval, folded
    into one pending publish; asking to publish sends that one now."""
    await configure(org, opal_server.url, debounce_seconds=3600)
    first = await delivered(org)
    await org.patch_user(org.users["bob"], "title", "Boss")
    await org.patch_user(org.users["alice"], "title", "Lead")

    async def waiting() -> Any:
        body = await opal_status(org)
        top = body["publishes"][0]
        return top if top["status"] == "pending" and top["revision"] > first["revision"] else None

    pending = await eventually(waiting)
    gap = datetime.fromisoformat(pending["due_at"]) - datetime.fromisoformat(
        first["last_attempt_at"]
    )
    assert gap >= timedelta(seconds=3600)
    assert (await opal_status(org))["pending"] == 1
    r = await org.h.client.post("/pip/opal/publish", headers=org.headers(org.admin))
    assert r.status_code == 202 and r.json()["id"] == pending["id"]
    done = await delivered(org, pending["revision"])
    assert done["id"] == pending["id"] and done["trigger"] == "manual"
    assert len(opal_server.updates) == 2


async def test_an_oversize_document_fails_the_publish_without_retrying(
    settings: Settings, opal_server: Recorder
) -> None:
    """OPAL clients could not fetch it, so the publish fails at once with the limit named."""
    small = settings.model_copy(
        update={
            "outbound_allow": LOOPBACK,
            "opal_poll_seconds": 0.05,
            "opal_max_document_bytes": 1024,
        }
    )
    async with started(small) as h:
        org = await acme(h)
        for n in range(10):
            await org.add_user(f"user{n}", title="x" * 100)
        await configure(org, opal_server.url)

        async def failed() -> Any:
            body = await opal_status(org)
            return body["publishes"][0] if body["failed"] else None

        row = await eventually(failed)
        assert row["status"] == "failed" and row["attempts"] == 1
        assert "over the OPAL limit of 1024" in row["last_error"]
    assert opal_server.updates == []


async def test_changes_made_elsewhere_are_published_too(org: Org, opal_server: Recorder) -> None:
    """A write that did not go through this process's API (a sync worker elsewhere) reaches
    OPAL through the event stream."""
    await configure(org, opal_server.url)
    first = await delivered(org)
    records = [SourceRecord("e9", {"user_name": "carol", "department": "Sales"})]
    async with org.h.svc.db.transaction() as session:
        await ingest_identities(
            session, Actor(org.tenant, "test:sync"), "worker-elsewhere", records, policy_of({})
        )
    later = await delivered(org, first["revision"] + 1)
    assert later["trigger"] == "change"
    assert len(opal_server.updates) == 2
