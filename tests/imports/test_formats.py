"""POST /pip/import with real files: cp1252 CSV, nested JSON, a multi-sheet workbook."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Group, Membership
from tests.conftest import BOTH, Harness
from tests.connectors.files.test_formats import workbook
from tests.imports.conftest import PEOPLE, people, post_import, rows

pytestmark = BOTH

# Excel's "CSV" on Western Windows: cp1252, semicolons, no byte-order mark.
CP1252 = (
    "id;login;email;name;title\r\n"
    "1;zoe;zoe@example.com;Zoë Ålander;Directrice générale\r\n"
    "2;rene;rene@example.com;Renée Müller;Ingénieure\r\n"
    "3;bad;not-an-address;Bad Row;—\r\n"
    "4;four;four@example.com;Too;Many;Cells\r\n"
    "5;ok;ok@example.com;Œuvre Ÿ;€ lead\r\n"
)


async def start(h: Harness) -> str:
    """Tenant acme and an importing token."""
    await h.tenant("acme")
    return await h.token("acme", "identities:write")


async def test_a_cp1252_csv_without_a_bom(harness: Harness) -> None:
    token = await start(harness)
    data = CP1252.encode("cp1252")
    done = await post_import(harness, token, "export.csv", data, PEOPLE, mode="best_effort")
    body = done.json()
    assert body["file"] == {
        "name": "export.csv",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": "csv",
        "encoding": "cp1252",
    }
    assert body["counts"]["identity"]["created"] == 3
    assert body["errors"] == [
        {
            "row": 3,
            "stream": "export",
            "field": "email",
            "reason": "not an e-mail address (no local part, '@' and domain)",
        },
        {
            "row": 4,
            "stream": "export",
            "field": None,
            "reason": "line 5: has 6 cells but the header names 5 columns",
        },
    ]
    found = await people(harness)
    assert found["zoe"].display_name == "Zoë Ålander"
    assert found["zoe"].title == "Directrice générale"
    assert (found["ok"].display_name, found["ok"].title) == ("Œuvre Ÿ", "€ lead")
    # No error names a value from the file.
    assert "not-an-address" not in done.text and "Cells" not in done.text


NESTED: dict[str, Any] = {
    "meta": {"exported": "2026-01-01"},
    "directory": {
        "people": [
            {"id": "u1", "login": "Ada", "contact": {"emails": ["ada@example.com"]}},
            {"id": "u2", "login": "bob", "contact": {"emails": ["bob@example.com"]}},
            {"id": "u3", "login": "cy", "contact": {"emails": []}},
        ],
        "teams": [{"key": "eng", "title": "Engineering", "members": ["u1", "u2"]}],
        "members": [{"team": "eng", "person": "u1"}, {"team": "eng", "person": "u2"}],
    },
}
NESTED_MAPPING = {
    "streams": {
        "directory.people": {
            "kind": "identity",
            "external_id": "id",
            "fields": {
                "user_name": {"from": "login", "steps": ["lower"]},
                "email": {"from": "contact.emails[0]", "validate": ["required"]},
            },
        },
        "directory.teams": {
            "kind": "group",
            "external_id": "key",
            "fields": {"display_name": "title"},
        },
        "directory.members": {
            "kind": "membership",
            "fields": {"group": "team", "member": "person"},
        },
    }
}


async def test_nested_json_with_three_streams(harness: Harness) -> None:
    token = await start(harness)
    data = json.dumps(NESTED).encode()
    done = await post_import(
        harness, token, "directory.json", data, NESTED_MAPPING, mode="best_effort"
    )
    body = done.json()
    assert body["file"]["format"] == "json"
    assert [(s["name"], s["kind"], s["rows"]) for s in body["streams"]] == [
        ("directory.people", "identity", 3),
        ("directory.teams", "group", 1),
        ("directory.members", "membership", 2),
    ]
    assert body["counts"]["identity"]["created"] == 2
    assert body["counts"]["group"]["created"] == 1
    assert body["counts"]["membership"]["created"] == 2
    assert body["errors"] == [
        {
            "row": 3,
            "stream": "directory.people",
            "field": "email",
            "reason": "is required but missing or empty",
        }
    ]
    assert set(await people(harness)) == {"ada", "bob"}
    assert await rows(harness, Membership) == 2


def org_workbook() -> bytes:
    """People, Groups and Members sheets, and a Notes sheet the mapping leaves out."""
    return workbook(
        {
            "People": [
                ["Employee ID", "Login", "E-mail", "Title"],
                ["E1", "ada", "ada@example.com", "Engineer"],
                ["E2", "bob", "bob@example.com", "Analyst"],
                ["E3", "cy", "cy@example.com", None],
            ],
            "Groups": [["cn", "name"], ["eng", "Engineering"], ["ops", "Operations"]],
            "Members": [["cn", "employee"], ["eng", "E1"], ["eng", "E2"], ["ops", "E9"]],
            "Notes": [["anything"], ["at all"]],
        }
    )


SHEETS = {
    "streams": {
        "People": {
            "kind": "identity",
            "external_id": "Employee ID",
            "fields": {"user_name": "Login", "email": "E-mail", "title": "Title"},
        },
        "Groups": {"kind": "group", "external_id": "cn", "fields": {"display_name": "name"}},
        "Members": {"kind": "membership", "fields": {"group": "cn", "member": "employee"}},
    }
}


async def test_a_multi_sheet_workbook(harness: Harness) -> None:
    token = await start(harness)
    done = await post_import(harness, token, "org.xlsx", org_workbook(), SHEETS, mode="best_effort")
    body = done.json()
    assert body["file"]["format"] == "excel" and body["file"]["encoding"] is None
    assert [s["name"] for s in body["streams"]] == ["People", "Groups", "Members"]
    assert body["counts"]["membership"]["created"] == 2
    assert body["errors"] == [
        {
            "row": 3,
            "stream": "Members",
            "field": None,
            "reason": "'E9' is not a record of import:org.xlsx",
        }
    ]
    async with harness.svc.db.transaction(write=False) as s:
        stmt = select(Group.display_name).order_by(Group.display_name)
        names = (await s.execute(stmt.execution_options(**{TENANT: "acme"}))).scalars().all()
    assert names == ["Engineering", "Operations"]
    # All or nothing: the member that is not in the file fails the whole workbook.
    await harness.tenant("beta")
    beta = await harness.token("beta", "identities:write")
    failed = await post_import(harness, beta, "org.xlsx", org_workbook(), SHEETS)
    assert failed.json()["status"] == "failed"
    assert await people(harness, "beta") == {}
    assert await rows(harness, Group, "beta") == 0
