"""Decision inputs are stored redacted by the store's classification, the way OPA records it."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from gatehouse.config import Settings
from gatehouse.db.tenancy import TENANT
from gatehouse.fleet.models import DecisionRecord
from tests.conftest import Harness, started
from tests.fleet.conftest import event, post_logs

SECRET_VALUES = ("98000", "hunter2", "G7-secret", "Bearer xyz", "123-45-6789")


async def classified(h: Harness) -> None:
    """Tenant acme with a file connection whose mapping classifies its fields."""
    await h.tenant("acme")
    auth = h.auth(await h.token("acme", "connections:write"))
    sources = h.svc.settings.home / "sources" / "acme"
    sources.mkdir(parents=True, exist_ok=True)
    path = sources / "people.csv"
    path.write_text("id,login,email,salary,pay_grade\n1,ada,ada@x.io,98000,G7\n")
    made = await h.client.post(
        "/pip/connections",
        json={"name": "hr", "type": "file", "config": {"path": str(path)}},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    schema = await h.client.get(f"/pip/connections/{cid}/schema", headers=auth)
    fields = {f["name"]: f["sensitivity"] for f in schema.json()["streams"][0]["fields"]}
    assert (fields["salary"], fields["email"], fields["pay_grade"]) == (
        "restricted",
        "confidential",
        "internal",
    )
    stream = schema.json()["streams"][0]["name"]
    transform = {
        "kind": "identity",
        "external_id": "id",
        "fields": {
            "user_name": "login",
            "email": "email",
            "attributes.compensation": {"from": "salary", "steps": ["integer"]},
            "attributes.grade": "pay_grade",
        },
    }
    mapping = {
        "streams": {stream: {"sensitivity": {"pay_grade": "restricted"}, "transform": transform}}
    }
    saved = await h.client.put(f"/pip/connections/{cid}/mapping", json=mapping, headers=auth)
    assert saved.status_code == 200, saved.text


def sensitive_event() -> dict[str, Any]:
    """A decision whose input names classified attributes, secrets, and OPA's own erasure."""
    return event(
        0,
        input={
            "user": {
                "login": "ada",
                "email": "ada@x.io",
                "salary": 98000,
                "Compensation": 98000,
                "grade": "G7-secret",
                "password": "hunter2",
            },
            "headers": {"Authorization": "Bearer xyz"},
            "items": [{"salary": 98000}, {"id": 2}],
            "a/b": {"salary": 98000},
        },
        result={"allow": True, "salary": 98000},
        erased=["/input/ssn"],
        masked=["/input/name"],
        request_context={"http": {"headers": {"Authorization": ["Bearer xyz"], "X-Id": ["7"]}}},
    )


async def row_of(h: Harness) -> DecisionRecord:
    """The stored decision d-0 of acme."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(DecisionRecord).where(DecisionRecord.decision_id == "d-0")
        return (await s.scalars(stmt.execution_options(**{TENANT: "acme"}))).one()


async def test_restricted_attributes_and_secrets_are_erased(harness: Harness) -> None:
    """Values of restricted attributes (by source or store name) and secrets are never stored."""
    await classified(harness)
    token = await harness.token("acme", "fleet:report")
    resp = await post_logs(harness, token, [sensitive_event()])
    assert resp.status_code == 200, resp.text
    row = await row_of(harness)
    assert row.input == {
        "user": {"login": "ada", "email": "ada@x.io"},
        "headers": {},
        "items": [{}, {"id": 2}],
        "a/b": {},
    }
    assert row.result == {"allow": True}
    assert row.erased == [
        "/input/ssn",
        "/input/user/salary",
        "/input/user/Compensation",
        "/input/user/grade",
        "/input/user/password",
        "/input/headers/Authorization",
        "/input/items/0/salary",
        "/input/a~1b/salary",
        "/result/salary",
        "/request_context/http/headers/Authorization",
    ]
    assert row.masked == ["/input/name"]
    assert row.extra == {"req_id": 3, "request_context": {"http": {"headers": {"X-Id": ["7"]}}}}
    stored = orjson.dumps([row.input, row.result, row.extra, row.labels]).decode()
    assert not any(value in stored for value in SECRET_VALUES)


async def test_confidential_attributes_are_masked_when_configured(settings: Settings) -> None:
    """With GATEHOUSE_DECISION_LOG_MASK_FROM=confidential, confidential values are masked."""
    strict = settings.model_copy(update={"decision_log_mask_from": "confidential"})
    async with started(strict) as h:
        await classified(h)
        token = await h.token("acme", "fleet:report")
        await post_logs(h, token, [sensitive_event()])
        row = await row_of(h)
        assert row.input["user"] == {"login": "ada", "email": "***"}
        assert row.masked == ["/input/name", "/input/user/email"]
        reader = h.auth(await h.token("acme", "decisions:read"))
        shown = (await h.client.get("/v1/decisions/d-0", headers=reader)).json()
        assert shown["masked"] == ["/input/name", "/input/user/email"]
        assert "ada@x.io" not in str(shown)


async def test_without_classification_only_secrets_are_erased(harness: Harness) -> None:
    """A tenant with no classified sources still never stores secret-named fields."""
    await harness.tenant("acme")
    token = await harness.token("acme", "fleet:report")
    await post_logs(harness, token, [sensitive_event()])
    row = await row_of(harness)
    assert row.input["user"]["salary"] == 98000
    assert "password" not in row.input["user"] and row.input["headers"] == {}
