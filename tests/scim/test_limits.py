"""Limits on what one SCIM query may cost."""

import pytest
from sqlalchemy import text

from gatehouse.scim import listing
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
