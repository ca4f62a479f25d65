"""POST /pip/import: each mode with each duplicate strategy, and what is (not) written."""

from __future__ import annotations

from typing import Any

import pytest

from gatehouse.events.models import Event
from gatehouse.identity.models import Identity, IdentityLink, RecordVersion
from tests.conftest import BOTH, Harness
from tests.imports.conftest import PEOPLE, people, post_import, rows

pytestmark = BOTH
HEADER = "id,login,email,name,title\n"
FIRST = (
    HEADER + "1,ada,ada@example.com,Ada Lovelace,Engineer\n2,bob,bob@example.com,Bob B,Analyst\n"
)
# Row 1 changes a known person, row 2 is new, row 3 repeats row 2's id in the file.
SECOND = (
    HEADER
    + "1,ada,ada@example.com,Ada Lovelace,Lead\n"
    + "3,cy,cy@example.com,Cy Ray,Intern\n"
    + "3,cy,cy@example.com,Cy Ray,Director\n"
)
EXISTS = "already exists (linked from import:people.csv), and duplicates are set to fail"
TWICE = "appears more than once, and duplicates are set to fail"


async def setup(h: Harness) -> str:
    """Tenant acme with ada and bob imported from people.csv; an importing token."""
    await h.tenant("acme")
    token = await h.token("acme", "identities:write")
    first = await post_import(h, token, "people.csv", FIRST.encode(), PEOPLE)
    assert first.status_code == 200, first.text
    assert first.json()["counts"]["identity"]["created"] == 2
    return token


def titles(found: dict[str, Identity]) -> dict[str, str | None]:
    """user name → title."""
    return {name: person.title for name, person in sorted(found.items())}


@pytest.mark.parametrize("mode", ["all_or_nothing", "best_effort"])
async def test_update_merges_existing_records_and_a_repeated_id(
    harness: Harness, mode: str
) -> None:
    token = await setup(harness)
    done = await post_import(harness, token, "people.csv", SECOND.encode(), PEOPLE, mode=mode)
    body = done.json()
    assert (body["status"], body["written"], body["errors"]) == ("succeeded", True, [])
    assert body["counts"]["identity"] == {
        "created": 1,
        "updated": 1,
        "skipped": 0,
        "unchanged": 0,
        "errors": 0,
        "read": 3,
    }
    assert titles(await people(harness)) == {"ada": "Lead", "bob": "Analyst", "cy": "Director"}


@pytest.mark.parametrize("mode", ["all_or_nothing", "best_effort"])
async def test_skip_leaves_existing_records_and_a_repeated_id(harness: Harness, mode: str) -> None:
    token = await setup(harness)
    done = await post_import(
        harness, token, "people.csv", SECOND.encode(), PEOPLE, mode=mode, duplicates="skip"
    )
    body = done.json()
    assert (body["status"], body["written"]) == ("succeeded", True)
    counts = body["counts"]["identity"]
    assert (counts["created"], counts["skipped"], counts["updated"], counts["errors"]) == (
        1,
        2,
        0,
        0,
    )
    assert titles(await people(harness)) == {"ada": "Engineer", "bob": "Analyst", "cy": "Intern"}


async def test_fail_with_best_effort_reports_each_duplicate(harness: Harness) -> None:
    token = await setup(harness)
    done = await post_import(
        harness,
        token,
        "people.csv",
        SECOND.encode(),
        PEOPLE,
        mode="best_effort",
        duplicates="fail",
    )
    body = done.json()
    assert (body["status"], body["written"], body["error"]) == ("succeeded", True, None)
    assert body["counts"]["identity"]["created"] == 1
    assert body["counts"]["identity"]["errors"] == 2
    assert body["errors"] == [
        {"row": 1, "stream": "people", "field": None, "reason": EXISTS},
        {"row": 3, "stream": "people", "field": None, "reason": TWICE},
    ]
    assert body["errors_total"] == 2
    assert titles(await people(harness)) == {"ada": "Engineer", "bob": "Analyst", "cy": "Intern"}


async def test_fail_with_all_or_nothing_writes_nothing(harness: Harness) -> None:
    token = await setup(harness)
    before = [await rows(harness, m) for m in (Identity, IdentityLink, RecordVersion, Event)]
    done = await post_import(
        harness, token, "people.csv", SECOND.encode(), PEOPLE, duplicates="fail"
    )
    body = done.json()
    assert (body["status"], body["written"]) == ("failed", False)
    assert body["error"].startswith("2 records failed and this run is all or nothing")
    assert body["counts"]["identity"]["created"] == 0  # nothing written: nothing counted so
    assert body["would_write"]["identity"]["created"] == 1
    assert [e["row"] for e in body["errors"]] == [1, 3]
    assert titles(await people(harness)) == {"ada": "Engineer", "bob": "Analyst"}
    assert [
        await rows(harness, m) for m in (Identity, IdentityLink, RecordVersion, Event)
    ] == before


def big_file(count: int, bad_row: int) -> bytes:
    """`count` people over several engine batches, with an invalid e-mail on `bad_row`."""
    lines = [HEADER.strip()]
    for n in range(1, count + 1):
        email = "not-an-address" if n == bad_row else f"p{n}@example.com"
        lines.append(f"{n},p{n},{email},Person {n},")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(("mode", "created"), [("all_or_nothing", 0), ("best_effort", 2499)])
async def test_a_bad_row_after_the_first_batches(harness: Harness, mode: str, created: int) -> None:
    """All or nothing rolls back batches already applied; best effort keeps every good row."""
    await harness.tenant("acme")
    token = await harness.token("acme", "identities:write")
    done = await post_import(harness, token, "staff.csv", big_file(2500, 2400), PEOPLE, mode=mode)
    body = done.json()
    assert body["streams"] == [{"name": "staff", "kind": "identity", "rows": 2500}]
    assert body["errors"] == [
        {
            "row": 2400,
            "stream": "staff",
            "field": "email",
            "reason": "not an e-mail address (no local part, '@' and domain)",
        }
    ]
    assert body["status"] == ("failed" if mode == "all_or_nothing" else "succeeded")
    assert await rows(harness, Identity) == created
    assert await rows(harness, IdentityLink) == created
    assert await rows(harness, Event) == created


@pytest.mark.parametrize("mode", ["all_or_nothing", "best_effort"])
async def test_dry_run_counts_and_writes_nothing(harness: Harness, mode: str) -> None:
    token = await setup(harness)
    before = [await rows(harness, m) for m in (Identity, IdentityLink, RecordVersion, Event)]
    done = await post_import(
        harness, token, "people.csv", SECOND.encode(), PEOPLE, mode=mode, dry_run=True
    )
    body = done.json()
    assert (body["status"], body["written"], body["dry_run"]) == ("succeeded", False, True)
    # Nothing was written, and what would have been is reported apart from it.
    assert (body["counts"]["identity"]["created"], body["counts"]["identity"]["updated"]) == (0, 0)
    assert body["would_write"]["identity"] == {"created": 1, "updated": 1}
    assert body["counts"]["identity"]["read"] == 3
    assert [
        await rows(harness, m) for m in (Identity, IdentityLink, RecordVersion, Event)
    ] == before
    assert titles(await people(harness)) == {"ada": "Engineer", "bob": "Analyst"}
    runs = await harness.client.get("/pip/import/runs", headers=harness.auth(token))
    latest: dict[str, Any] = runs.json()["items"][0]
    assert (latest["id"], latest["dry_run"], latest["trigger"]) == (body["run_id"], True, "import")
    assert (latest["written"], latest["would_write"]["identity"]["created"]) == (False, 1)
    assert latest["counts"]["identity"]["created"] == 0


async def test_rerunning_an_import_changes_nothing(harness: Harness) -> None:
    token = await setup(harness)
    again = await post_import(harness, token, "people.csv", FIRST.encode(), PEOPLE)
    counts = again.json()["counts"]["identity"]
    assert (counts["unchanged"], counts["created"], counts["updated"]) == (2, 0, 0)
    # Under another source name the same people are matched by correlation and linked.
    other = await post_import(
        harness, token, "people.csv", FIRST.encode(), PEOPLE, source="hr-export"
    )
    body = other.json()
    assert (body["source"], body["counts"]["identity"]["linked"]) == ("hr-export", 2)
    assert await rows(harness, Identity) == 2
    assert await rows(harness, IdentityLink) == 4
