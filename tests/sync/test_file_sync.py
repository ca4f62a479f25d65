"""A file connection synced by the engine: an Excel workbook and a CSV through their mappings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gatehouse.connectors.builtin.files import FileConnector
from gatehouse.connectors.environment import Environment
from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Group, Identity, Membership
from gatehouse.sync.mapping import stream_transform
from gatehouse.sync.plan import Job, StreamPlan
from tests.conftest import BOTH, Harness
from tests.connectors.files.test_formats import workbook
from tests.sync.source import run_job

pytestmark = BOTH
PEOPLE: dict[str, Any] = {
    "kind": "identity",
    "external_id": "Employee ID",
    "fields": {
        "user_name": {"from": "Login", "steps": ["trim", "lower"]},
        "email": {"from": "E-mail", "steps": ["email"]},
        "display_name": {"template": "{First} {Last}"},
        "active": {"from": "Active", "steps": ["boolean"]},
        "hired_on": {"from": "Hired", "steps": [{"date": {}}]},
    },
}
GROUPS: dict[str, Any] = {"kind": "group", "external_id": "cn", "fields": {"display_name": "name"}}
MEMBERS: dict[str, Any] = {"kind": "membership", "fields": {"group": "cn", "member": "employee"}}


def file_job(root: Path, path: str, streams: list[StreamPlan], on_error: str = "skip") -> Job:
    """A job reading `path` in `root`, a source directory."""
    return Job(
        tenant_id="acme",
        connection_id="conn-files",
        source="hr-files",
        connector=FileConnector(Environment(file_roots=(root,))),
        config={"path": str(root / path)},
        streams=[replace(stream, on_error=on_error) for stream in streams],
    )


async def names(h: Harness, column: Any) -> list[str]:
    """Values of a column of the tenant's rows, sorted."""
    async with h.svc.db.transaction(write=False) as s:
        rows = await s.execute(select(column).execution_options(**{TENANT: "acme"}))
        return sorted(str(v) for v in rows.scalars())


async def test_an_excel_workbook_fills_the_store_sheet_by_sheet(
    harness: Harness, tmp_path: Path
) -> None:
    await harness.tenant("acme")
    (tmp_path / "org.xlsx").write_bytes(
        workbook(
            {
                "People": [
                    ["Employee ID", "Login", "E-mail", "First", "Last", "Active", "Hired"],
                    ["E1", " Ada ", "ADA@Example.com", "Ada", "Lovelace", "yes", "2015-12-10"],
                    ["E2", "bob", "bob@example.com", "Bob", "Babbage", "no", "2016-01-02"],
                    ["E3", "cy", "not-an-address", "Cy", "Ray", "yes", None],
                ],
                "Groups": [["cn", "name"], ["eng", "Engineering"]],
                "Members": [["cn", "employee"], ["eng", "E1"], ["eng", "E2"]],
            }
        )
    )
    streams = [
        StreamPlan("People", "identity", stream_transform(PEOPLE)),
        StreamPlan("Groups", "group", stream_transform(GROUPS)),
        StreamPlan("Members", "membership", stream_transform(MEMBERS)),
    ]
    run = await run_job(harness, file_job(tmp_path, "org.xlsx", streams))
    assert run.status == "succeeded", run.error
    assert run.counts["identity"] == {"read": 3, "created": 2, "errors": 1}
    assert run.counts["membership"]["created"] == 2
    assert run.error_samples == [
        {
            "stream": "People",
            "record": "E3",
            "error": "email: not an e-mail address (no local part, '@' and domain)",
        }
    ]
    assert await names(harness, Identity.user_name) == ["ada", "bob"]
    assert await names(harness, Identity.email) == ["ada@example.com", "bob@example.com"]
    assert await names(harness, Group.display_name) == ["Engineering"]
    assert len(await names(harness, Membership.group_id)) == 2


async def test_malformed_csv_rows_are_reported_or_fail_the_run(
    harness: Harness, tmp_path: Path
) -> None:
    await harness.tenant("acme")
    (tmp_path / "people.csv").write_text(
        "Employee ID;Login;E-mail;First;Last;Active;Hired\n"
        "E1;ada;ada@example.com;Ada;Lovelace;y;2015-12-10\n"
        "E2;bob\n"
        "E3;cy;cy@example.com;Cy;Ray;n;\n",
        encoding="cp1252",
    )
    streams = [StreamPlan("people", "identity", stream_transform(PEOPLE))]
    run = await run_job(harness, file_job(tmp_path, "people.csv", streams))
    assert run.status == "succeeded", run.error
    assert run.error_samples == [
        {
            "stream": "people",
            "record": "row 2",
            "error": "line 3: has 2 cells but the header names 7 columns",
        }
    ]
    assert await names(harness, Identity.user_name) == ["ada", "cy"]
    failing = await run_job(harness, file_job(tmp_path, "people.csv", streams, on_error="fail"))
    assert failing.status == "failed"
    assert "row 2" in (failing.error or "") and "line 3" in (failing.error or "")
