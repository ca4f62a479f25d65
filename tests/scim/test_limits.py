"""Limits on what one SCIM query may cost."""

import pytest
from sqlalchemy import text

from gatehouse.scim import filters, listing
from tests.scim.conftest import Scim
from tests.scim.test_filters import seed


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_filters_that_run_too_long_are_refused(
    scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filtered query PostgreSQL cannot finish within the statement timeout is 400 tooMany."""
    await seed(scim)
    monkeypatch.setattr(listing, "STATEMENT_TIMEOUT_MS", 200)
    # Holding a lock on the table makes the query wait until the timeout cancels it.
    async with scim.h.svc.db.engine.begin() as conn:
        await conn.execute(text("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE"))
        resp = await scim.http.get("/Users", params={"filter": 'displayName co "a"'})
    assert resp.status_code == 400, resp.text
    assert resp.json()["scimType"] == "tooMany"
    assert (await scim.http.get("/Users", params={"filter": "title pr"})).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_queries_past_their_deadline_are_interrupted(
    scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite has no statement timeout; a progress handler interrupts the query instead."""
    await seed(scim)
    monkeypatch.setattr(listing, "STATEMENT_TIMEOUT_MS", -1)  # the deadline has passed
    monkeypatch.setattr(listing, "PROGRESS_STEPS", 1)
    resp = await scim.http.get("/Users", params={"filter": 'displayName co "a"'})
    assert resp.status_code == 400, resp.text
    assert resp.json()["scimType"] == "tooMany"
    # The handler is gone afterwards: unfiltered queries on the same pool still run.
    assert (await scim.http.get("/Users")).json()["totalResults"] == 4
    monkeypatch.setattr(listing, "STATEMENT_TIMEOUT_MS", 10_000)
    assert (await scim.http.get("/Users", params={"filter": "title pr"})).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_deeply_nested_or_long_filters_are_invalid(scim: Scim) -> None:
    """~1,000 nested parentheses, `not`s or value paths, or a chain of hundreds of terms, are
    400 invalidFilter in SCIM's shape, never a 500; a filter at the limits still runs."""
    await scim.user("ada@example.com")
    term = 'userName eq "ada@example.com"'
    refused = [
        "(" * 1000 + term + ")" * 1000,
        "not (" * 40 + term + ")" * 40,
        "(" * (filters.MAX_DEPTH + 1) + term + ")" * (filters.MAX_DEPTH + 1),
        " or ".join([term] * (filters.MAX_TERMS + 1)),
        "emails[" * 200 + 'value eq "x"' + "]" * 200,
        term + ")" * 2000,
    ]
    for expr in refused:
        for resp in (
            await scim.http.get("/Users", params={"filter": expr}),
            await scim.http.post("/Users/.search", json={"filter": expr}),
        ):
            assert resp.status_code == 400, (expr[:40], resp.expr[:200])
            body = resp.json()
            assert body["scimType"] == "invalidFilter", body
            assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    at_limit = [
        "(" * filters.MAX_DEPTH + term + ")" * filters.MAX_DEPTH,
        " or ".join([term] * filters.MAX_TERMS),
        " and ".join(["not (" + term + ")", *[f'title ne "{i}"' for i in range(60)]]),
    ]
    for expr in at_limit:
        resp = await scim.http.get("/Users", params={"filter": expr})
        assert resp.status_code == 200, (expr[:40], resp.expr[:200])
