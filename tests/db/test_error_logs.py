"""A database error's log line names the statement, never its bound values (personal data,
token hashes)."""

from __future__ import annotations

import io
import json

from sqlalchemy import text

from tests.conftest import BOTH, Harness

PERSON = "grace.hopper.private@example.com"


@BOTH
async def test_a_failed_statement_logs_no_parameters(
    harness: Harness, log_lines: io.StringIO
) -> None:
    """With the identities table gone, a SCIM create answers 500 and logs the INSERT without
    the user's data."""
    await harness.tenant("acme")
    auth = harness.auth(await harness.token("acme", "scim:write"))
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "warm-up"}
    assert (await harness.client.post("/scim/v2/Users", json=user, headers=auth)).is_success
    engine = harness.svc.db.engine
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE identities RENAME TO identities_away"))
    try:
        user = {**user, "userName": PERSON, "name": {"givenName": "Grace-Private"}}
        resp = await harness.client.post("/scim/v2/Users", json=user, headers=auth)
        assert resp.status_code == 500
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE identities_away RENAME TO identities"))
    logs = log_lines.getvalue()
    errors = [json.loads(line) for line in logs.splitlines() if '"level":"error"' in line]
    assert any("identities" in str(e.get("exception", "")) for e in errors), logs[-3000:]
    assert "parameters hidden" in logs
    assert PERSON not in logs
    assert "Grace-Private" not in logs
