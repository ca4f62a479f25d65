"""POST /pip/import refuses bad input with problem+json, audits, limits and isolates tenants."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gatehouse.audit.models import AuditEntry
from gatehouse.config import Settings
from gatehouse.connections.operations import Connections
from gatehouse.connectors.protocol import SyncMode
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Identity
from gatehouse.imports.service import IMPORTS
from gatehouse.sync import runs
from gatehouse.sync.jobs import job_factory
from gatehouse.sync.models import SyncRun
from gatehouse.sync.worker import Worker
from tests.conftest import BOTH, Harness, started
from tests.imports.conftest import PEOPLE, people, post_import, rows

pytestmark = BOTH
CSV = b"id,login,email,name,title\n1,ada,ada@example.com,Ada,Eng\n"


async def start(h: Harness, *scopes: str) -> str:
    """Tenant acme and a token with `scopes` (identities:write by default)."""
    await h.tenant("acme")
    return await h.token("acme", *(scopes or ("identities:write",)))


async def audit_of(h: Harness, tenant: str = "acme") -> list[AuditEntry]:
    """The tenant's audit entries, oldest first."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(AuditEntry).where(AuditEntry.tenant_id == tenant).order_by(AuditEntry.seq)
        return list((await s.execute(stmt.execution_options(**{TENANT: tenant}))).scalars())


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem+json body of a refused request."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("name", "data", "mapping", "options", "status", "detail", "errors"),
    [
        ("p.csv", b"", PEOPLE, {}, 422, "p.csv: is empty", None),
        ("p.csv", b" \n\n", PEOPLE, {}, 422, "p.csv: is empty", None),
        ("p.xlsx", CSV, PEOPLE, {}, 422, "is named or declared an Excel workbook", None),
        ("p.csv", b"\x00\x01bin", PEOPLE, {}, 422, "contains NUL bytes", None),
        ("p.json", b"{not json", PEOPLE, {}, 422, "is not valid JSON", None),
        ("p.csv", CSV, "{nope", {}, 400, "The mapping is not valid JSON", None),
        ("p.csv", CSV, [1, 2], {}, 422, "must be a JSON object", None),
        (
            "p.csv",
            CSV,
            {"streams": {"staff": PEOPLE}},
            {},
            422,
            "The mapping has 1 problem",
            [
                {
                    "field": "mapping.streams.staff",
                    "message": "the file has no stream 'staff'; it has 'p'",
                }
            ],
        ),
        (
            "p.csv",
            CSV,
            {
                "kind": "identity",
                "external_id": "id",
                "fields": {"user_name": {"from": "login", "steps": ["shout"]}, "email": "mail"},
            },
            {},
            422,
            "The mapping has 1 problem",
            None,
        ),
        (
            "p.csv",
            CSV,
            {
                "kind": "identity",
                "external_id": "id",
                "fields": {"user_name": "login", "email": "mail"},
            },
            {},
            422,
            "The mapping has 1 problem",
            [
                {
                    "field": "mapping",
                    "message": "the transform reads 'mail', which the stream does not have",
                },
            ],
        ),
        ("p.csv", CSV, PEOPLE, {"mode": "sometimes"}, 422, "Some import options are wrong", None),
        ("p.csv", CSV, PEOPLE, {"duplicates": "merge"}, 422, "Some import options are wrong", None),
        ("p.csv", CSV, PEOPLE, {"delimiter": ";;"}, 422, "Some import options are wrong", None),
        ("p.csv", CSV, PEOPLE, {"source": "x" * 65}, 422, "Some import options are wrong", None),
        ("p.csv", CSV, PEOPLE, {"encoding": "klingon"}, 422, "unknown encoding 'klingon'", None),
        ("p.csv", CSV, PEOPLE, {"shard": "2"}, 422, "The form is not an import", None),
    ],
)
async def test_bad_input_is_a_problem_and_audited(
    harness: Harness,
    name: str,
    data: bytes,
    mapping: Any,
    options: dict[str, Any],
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None,
) -> None:
    token = await start(harness)
    body = problem(await post_import(harness, token, name, data, mapping, **options), status)
    assert detail in body["detail"]
    if errors is not None:
        assert body["errors"] == errors
    assert await rows(harness, Identity) == 0
    last = (await audit_of(harness))[-1]
    assert (last.action, last.outcome, last.target_id) == ("import", "failure", name)
    assert last.after == {"status": status, "detail": body["detail"]}


async def test_missing_parts_and_wrong_content_types(harness: Harness) -> None:
    token = await start(harness)
    url, auth = "/pip/import", harness.auth(token)
    body = problem(await harness.client.post(url, headers=auth, json={"file": "x"}), 415)
    assert "multipart/form-data" in body["detail"]
    only_mapping = await harness.client.post(url, headers=auth, files={"mapping": (None, "{}")})
    assert problem(only_mapping, 422)["errors"] == [{"field": "file", "message": "is required"}]
    only_file = await harness.client.post(url, headers=auth, files={"file": ("p.csv", CSV)})
    assert problem(only_file, 422)["errors"] == [{"field": "mapping", "message": "is required"}]
    as_text = await harness.client.post(
        url, headers=auth, files={"file": (None, "id\n1\n"), "mapping": (None, "{}")}
    )
    assert "must be a file part" in problem(as_text, 422)["detail"]
    broken = await harness.client.post(
        url,
        headers={**auth, "content-type": "multipart/form-data; boundary=zzz"},
        content=b"--zzz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--zzz--\r\n",
    )
    assert broken.status_code in (400, 422)
    assert broken.headers["content-type"] == "application/problem+json"
    several = await harness.client.post(
        url,
        headers=auth,
        files=[("file", ("a.csv", CSV)), ("file", ("b.csv", CSV)), ("mapping", (None, "{}"))],
    )
    assert problem(several, 422)["errors"] == [
        {"field": "file", "message": "is given more than once"}
    ]


async def test_a_mapping_sent_as_a_file_part_and_a_bare_transform_for_one_sheet(
    harness: Harness,
) -> None:
    token = await start(harness)
    done = await harness.client.post(
        "/pip/import",
        headers=harness.auth(token),
        files={
            "file": ("people.csv", CSV),
            "mapping": ("mapping.json", json.dumps(PEOPLE).encode(), "application/json"),
        },
    )
    assert done.status_code == 200, done.text
    assert done.json()["counts"]["identity"]["created"] == 1


@pytest.fixture
def small_settings(settings: Settings) -> Settings:
    """Settings with a 4 KiB import limit and the default 1 MiB body limit elsewhere."""
    return settings.model_copy(update={"import_max_bytes": 4096})


async def test_the_size_limit(small_settings: Settings) -> None:
    async with started(small_settings) as h:
        token = await start(h)
        big = CSV + b"".join(b"%d,p%d,p%d@example.com,P,T\n" % (n, n, n) for n in range(2, 400))
        assert len(big) > 4096
        refused = problem(await post_import(h, token, "big.csv", big, PEOPLE), 413)
        assert "at most 4096 bytes (GATEHOUSE_IMPORT_MAX_BYTES)" in refused["detail"]
        assert await rows(h, Identity) == 0
        # A body far over the limit is refused from its Content-Length, before it is read.
        huge = await h.client.post(
            "/pip/import",
            headers={**h.auth(token), "content-type": "multipart/form-data; boundary=x"},
            content=b"x" * (3 * 1024 * 1024),
        )
        assert "GATEHOUSE_IMPORT_MAX_BYTES" in problem(huge, 413)["detail"]
        fits = await post_import(h, token, "small.csv", big[:4000].rsplit(b"\n", 1)[0], PEOPLE)
        assert fits.status_code == 200, fits.text


async def test_the_import_route_takes_files_larger_than_other_bodies(settings: Settings) -> None:
    async with started(settings.model_copy(update={"max_body_bytes": 65536})) as h:
        token = await start(h)
        lines = [b"%d,p%d,p%d@example.com,Person %d,Title" % (n, n, n, n) for n in range(1, 3001)]
        data = b"id,login,email,name,title\n" + b"\n".join(lines) + b"\n"
        assert len(data) > 65536
        done = await post_import(h, token, "many.csv", data, PEOPLE)
        assert done.json()["counts"]["identity"]["created"] == 3000
        other = await h.client.post(
            "/v1/integration/tokens", headers=h.auth(token), content=b"{" + b" " * len(data)
        )
        assert "limited to 65536 bytes" in problem(other, 413)["detail"]


async def test_tokens_scopes_and_tenants(harness: Harness) -> None:
    token = await start(harness)
    reader = await harness.token("acme", "identities:read")
    await harness.tenant("other")
    other = await harness.token("other", "identities:write")

    anonymous = await harness.client.post("/pip/import", files={"file": ("p.csv", CSV)})
    assert problem(anonymous, 401)
    refused = problem(await post_import(harness, reader, "p.csv", CSV, PEOPLE), 403)
    assert refused["required_scope"] == "identities:write"
    denied = (await audit_of(harness))[-1]
    assert (denied.action, denied.outcome) == ("POST /pip/import", "denied")

    mine = (await post_import(harness, token, "p.csv", CSV, PEOPLE)).json()
    theirs = (await post_import(harness, other, "p.csv", CSV, PEOPLE)).json()
    assert mine["counts"]["identity"]["created"] == 1
    assert theirs["counts"]["identity"]["created"] == 1  # the same ids, another tenant's store
    assert set(await people(harness, "acme")) == set(await people(harness, "other")) == {"ada"}
    listed = await harness.client.get("/pip/import/runs", headers=harness.auth(other))
    assert [r["id"] for r in listed.json()["items"]] == [theirs["run_id"]]
    foreign = await harness.client.get(
        f"/pip/import/runs/{mine['run_id']}", headers=harness.auth(other)
    )
    assert problem(foreign, 404)
    own = await harness.client.get(
        f"/pip/import/runs/{mine['run_id']}", headers=harness.auth(reader)
    )
    assert own.json()["status"] == "succeeded"


async def test_every_import_is_audited(harness: Harness) -> None:
    token = await start(harness)
    done = (await post_import(harness, token, "people.csv", CSV, PEOPLE, duplicates="skip")).json()
    entries = [e for e in await audit_of(harness) if e.action.startswith("import.")]
    assert [(e.action, e.outcome, e.target_id) for e in entries] == [
        ("import.started", "success", done["run_id"]),
        ("import.finished", "success", done["run_id"]),
    ]
    finished = entries[-1]
    assert finished.actor.startswith("token:")
    assert finished.after is not None
    assert {k: finished.after[k] for k in ("file", "size", "sha256", "status", "duplicates")} == {
        "file": "people.csv",
        "size": len(CSV),
        "sha256": hashlib.sha256(CSV).hexdigest(),
        "status": "succeeded",
        "duplicates": "skip",
    }
    assert finished.after["counts"]["identity"]["created"] == 1
    failed = await post_import(harness, token, "people.csv", b"id,login\n1,\n", PEOPLE)
    last = (await audit_of(harness))[-1]
    assert failed.status_code == 422 and (last.action, last.outcome) == ("import", "failure")


async def test_one_import_at_a_time_per_tenant(harness: Harness) -> None:
    token = await start(harness)
    async with harness.svc.db.transaction() as s:
        running = await runs.enqueue(
            s,
            "acme",
            IMPORTS,
            mode=SyncMode.full_refresh,
            trigger="import",
            lease=("elsewhere", 60),
        )
    body = problem(await post_import(harness, token, "p.csv", CSV, PEOPLE), 409)
    assert running.id in body["detail"]
    assert await rows(harness, Identity) == 0


async def test_an_import_whose_server_died_is_failed_by_a_worker(
    harness: Harness, tmp_path: Path
) -> None:
    await start(harness)
    async with harness.svc.db.transaction() as s:
        run = await runs.enqueue(
            s, "acme", IMPORTS, mode=SyncMode.full_refresh, trigger="import", lease=("gone", 60)
        )
        await s.flush()
        await s.execute(
            update(SyncRun)
            .where(SyncRun.id == run.id)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
            .execution_options(**{TENANT: "acme"})
        )
    ops = Connections(harness.svc.db, harness.svc.keys, harness.svc.settings)
    assert await Worker(harness.svc.db, job_factory(ops)).run_once() == run.id
    async with harness.svc.db.transaction(write=False) as s:
        done = await s.get(SyncRun, run.id, execution_options={TENANT: "acme"})
    assert done is not None and done.status == "failed"
    assert done.error is not None and "import the file again" in done.error
