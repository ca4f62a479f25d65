"""`bundle.published`: one event per new data document revision, written with the revision;
none for a download, none for a refresh that rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.distribution.materialize import Limits, refresh
from gatehouse.identity.correlation import policy_of
from gatehouse.identity.ingest import SourceRecord, ingest_identities
from tests.conftest import BOTH, Harness, started
from tests.distribution.conftest import Org, acme
from tests.events.outbox import payloads, rolled_back

pytestmark = BOTH


@pytest.fixture
async def org(settings: Settings) -> AsyncIterator[Org]:
    """Tenant `acme` in an app whose document follows changes made elsewhere only when asked."""
    async with started(settings.model_copy(update={"distribution_poll_seconds": 60})) as h:
        yield await acme(h)


async def published(h: Harness) -> list[dict[str, object]]:
    """The tenant's `bundle.published` data, oldest first, each checked on its schema."""
    return await payloads(h.svc.db, "acme", "bundle.published")


async def elsewhere(org: Org, name: str) -> None:
    """A person written by another process (a sync worker): this one's hub is not told."""
    record = [SourceRecord(name, {"user_name": name})]
    async with org.h.svc.db.transaction() as session:
        await ingest_identities(session, Actor("acme", "test:sync"), "hr", record, policy_of({}))


async def test_a_revision_is_announced_once_however_often_it_is_read(org: Org) -> None:
    """The first build announces its revision with the ETag clients get; reads announce nothing."""
    first = await org.bundle()
    again = await org.bundle()
    assert first.status_code == again.status_code == 200
    (only,) = await published(org.h)
    assert (only["tenant"], only["etag"], only["rebuilt"]) == ("acme", first.headers["etag"], True)
    assert only["changed"] > 0
    assert first.headers["etag"] == again.headers["etag"]


async def test_a_burst_of_changes_is_one_revision_and_one_event(org: Org) -> None:
    """Changes committed elsewhere while nobody read are folded into the next revision."""
    await org.bundle()
    before = await published(org.h)
    for n in range(5):
        await elsewhere(org, f"carol{n}")
    now = await org.h.svc.distribution.catch_up("acme")
    after = await published(org.h)
    assert len(after) == len(before) + 1
    assert (after[-1]["revision"], after[-1]["etag"]) == (now.revision, now.etag)
    assert after[-1]["changed"] == 5 and after[-1]["rebuilt"] is False
    await org.h.svc.distribution.catch_up("acme")  # its own event changes no entry
    assert len(await published(org.h)) == len(after)


async def test_a_rolled_back_revision_is_not_announced(org: Org) -> None:
    """A refresh whose transaction fails leaves neither a revision nor its event."""
    await org.bundle()
    before = await published(org.h)
    await elsewhere(org, "dave")
    staged: list[int] = []

    async def build(session: AsyncSession) -> None:
        state, _ = await refresh(session, "acme", Limits())
        staged.append(state.revision)

    await rolled_back(org.h.svc.db, build)
    assert staged == [before[-1]["revision"] + 1]  # a revision and its event were staged
    assert await published(org.h) == before
