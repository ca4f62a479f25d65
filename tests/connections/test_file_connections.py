"""A file source through the /pip/connections API: test, discover and map a workbook."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gatehouse.config import Settings
from tests.conftest import BOTH, Harness, started
from tests.connectors.files.test_formats import workbook


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Harness]:
    """An app whose tenant acme's source directory (the default, home/sources/acme) holds an
    Excel workbook; beside it, another tenant's file and one outside every tenant's."""
    sources = settings.home / "sources" / "acme"
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
    theirs = settings.home / "sources" / "globex"
    (theirs / "hr").mkdir(parents=True)
    (theirs / "hr" / "payroll.csv").write_text("id,salary\n1,98000\n")
    (sources / "escape.csv").symlink_to(theirs / "hr" / "payroll.csv")
    async with started(settings) as h:
        yield h


@BOTH
async def test_a_workbook_is_tested_discovered_and_mapped(app: Harness, settings: Settings) -> None:
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    c = app.client
    path = "org.xlsx"  # relative to the tenant's source directory
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
    assert "not in this tenant's source directory" in outside.json()["message"]
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


@BOTH
async def test_a_tenant_reads_only_its_own_source_directory(
    app: Harness, settings: Settings
) -> None:
    """Attack: acme names globex's file every way it can; each is refused alike, the answer
    naming no server directory and not telling a file that exists from one that does not."""
    await app.tenant("acme")
    await app.tenant("globex")
    acme = app.auth(await app.token("acme", "connections:write"))
    globex = app.auth(await app.token("globex", "connections:write"))
    theirs = settings.home / "sources" / "globex" / "hr" / "payroll.csv"
    attempts = [
        "../globex/hr/payroll.csv",
        "../globex/hr/nothing.csv",
        str(theirs),
        str(theirs.with_name("nothing.csv")),
        "escape.csv",
        "../outside.csv",
        "../../outside.csv",
        str(settings.home / "outside.csv"),
        "/etc/passwd",
        "/no/such/file.csv",
        "..",
    ]
    roots = {str(settings.home.resolve()), str(settings.home)}
    for kind in ("file", "sqlite"):
        said = set()
        for path in attempts:
            body = {"type": kind, "config": {"path": path}}
            answer = await app.client.post("/pip/connections/test", json=body, headers=acme)
            assert answer.status_code == 200, answer.text
            found = answer.json()
            assert (found["ok"], found["failure"]) == (False, "config"), (kind, path, found)
            message = str(found["message"]).replace(repr(path), "<path>")
            assert not any(root in message for root in roots), message
            said.add(message)
        assert len(said) == 1, said  # one refusal for all: nothing learnt about what exists
    made = await app.client.post(
        "/pip/connections",
        json={"name": "steal", "type": "file", "config": {"path": "../globex/hr/payroll.csv"}},
        headers=acme,
    )
    if made.status_code == 201:  # saved despite its failed check: it still reads nothing
        schema = await app.client.get(f"/pip/connections/{made.json()['id']}/schema", headers=acme)
        assert schema.status_code == 502 and "98000" not in schema.text
    own = await app.client.post(
        "/pip/connections/test",
        json={"type": "file", "config": {"path": "hr/payroll.csv"}},
        headers=globex,
    )
    assert own.json()["ok"], own.text  # globex reads it, by the path relative to its directory
    missing = await app.client.post(
        "/pip/connections/test",
        json={"type": "file", "config": {"path": "hr/missing.csv"}},
        headers=globex,
    )
    assert "no file hr/missing.csv in this tenant's source directory" in missing.text
    assert not any(root in missing.text for root in roots)
