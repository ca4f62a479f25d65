"""A file source through the /pip/connections API: test, discover and map a workbook."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gatehouse.config import Settings
from tests.conftest import BOTH, Harness, started
from tests.connectors.files.test_formats import workbook


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Harness]:
    """An app whose source directory (the default, home/sources) holds an Excel workbook."""
    sources = settings.home / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    (sources / "org.xlsx").write_bytes(
        workbook(
            {
                "People": [["id", "login", "email", "salary"], [1, "ada", "ada@x.io", 10]],
                "Groups": [["cn", "members"], ["eng", "1"]],
            }
        )
    )
    (settings.home / "outside.csv").write_text("id\n1\n")
    async with started(settings) as h:
        yield h


@BOTH
async def test_a_workbook_is_tested_discovered_and_mapped(app: Harness, settings: Settings) -> None:
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    c = app.client
    path = str(settings.home / "sources" / "org.xlsx")
    ok = await c.post(
        "/pip/connections/test", json={"type": "file", "config": {"path": path}}, headers=auth
    )
    assert ok.status_code == 200 and ok.json()["ok"], ok.text
    assert "2 stream(s) (People, Groups)" in ok.json()["message"]
    outside = await c.post(
        "/pip/connections/test",
        json={"type": "file", "config": {"path": str(settings.home / "outside.csv")}},
        headers=auth,
    )
    assert (outside.json()["ok"], outside.json()["failure"]) == (False, "config")
    assert "GATEHOUSE_SOURCE_ROOTS" in outside.json()["message"]
    made = await c.post(
        "/pip/connections",
        json={"name": "org", "type": "file", "config": {"path": path}},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    schema = await c.get(f"/pip/connections/{cid}/schema", headers=auth)
    assert schema.status_code == 200, schema.text
    streams = {s["name"]: s for s in schema.json()["streams"]}
    assert set(streams) == {"People", "Groups"}
    people = {f["name"]: f for f in streams["People"]["fields"]}
    assert people["salary"]["sensitivity"] == "restricted"
    assert people["email"]["format"] == "email"
    transform = {
        "kind": "identity",
        "external_id": "id",
        "fields": {"user_name": "login", "email": {"from": "email", "steps": ["email"]}},
    }
    mapping = {"streams": {"People": {"transform": transform}}}
    saved = await c.put(f"/pip/connections/{cid}/mapping", json=mapping, headers=auth)
    assert saved.status_code == 200, saved.text
    transform["fields"]["title"] = "job_title"  # type: ignore[index]
    refused = await c.put(f"/pip/connections/{cid}/mapping", json=mapping, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "field": "streams.People.transform",
            "message": "the transform reads 'job_title', which the stream does not have",
        }
    ]
