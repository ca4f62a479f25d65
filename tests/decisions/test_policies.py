"""PUT/GET/DELETE /v1/policies: compile checks, versions, audit, bundles carry the modules."""

from __future__ import annotations

from sqlalchemy import select

from gatehouse.db.tenancy import TENANT
from gatehouse.decisions.models import PolicyVersion
from tests.conftest import BOTH
from tests.decisions.conftest import AUTHZ, Api, opa_error
from tests.distribution.conftest import unpack
from tests.fleet.conftest import audit_of


@BOTH
async def test_upload_list_get_delete(api: Api) -> None:
    """OPA's Policy API shapes; a deleted policy's rules are gone from decisions."""
    h = api.h
    extra = "package extra\n\nanswer := 42\n"
    assert (await api.put_policy("extra", extra)).json() == {}
    assert (await api.ask("extra/answer", {}))["result"] == 42
    listed = (await h.client.get("/v1/policies", headers=h.auth(api.reader))).json()
    assert [p["id"] for p in listed["result"]] == ["authz/main.rego", "extra"]
    one = (await h.client.get("/v1/policies/extra", headers=h.auth(api.reader))).json()
    assert set(one) == {"result"} and set(one["result"]) == {"id", "raw", "ast"}
    assert (one["result"]["id"], one["result"]["raw"]) == ("extra", extra)
    gone = await h.client.delete("/v1/policies/extra", headers=h.auth(api.writer))
    assert gone.status_code == 200 and gone.json() == {}
    assert "result" not in await api.ask("extra/answer", {})
    missing = await h.client.delete("/v1/policies/extra", headers=h.auth(api.writer))
    assert opa_error(missing, 404)["code"] == "resource_not_found"


@BOTH
async def test_bad_policy_is_rejected_and_never_replaces_a_working_one(api: Api) -> None:
    """A module that does not compile is OPA's 400 with the compiler's message and location."""
    alice = api.org.users["alice"]
    broken = AUTHZ.replace('"read"', '"read')
    body = opa_error(await api.put_policy("authz/main.rego", broken), 400)
    assert body["code"] == "invalid_parameter"
    first = body["errors"][0]
    assert first["code"] == "rego_parse_error"
    assert first["location"]["file"] == "authz/main.rego"
    assert first["location"]["row"] > 1
    assert "Stack backtrace" not in first["details"]["text"]
    assert (await api.ask("authz/allow", {"action": "read", "subject": alice}))["result"] is True
    v0 = "package old\n\nallow { true }\n"
    assert opa_error(await api.put_policy("old.rego", v0), 400)["errors"][0]["message"]
    nopkg = opa_error(await api.put_policy("nopkg.rego", "allow := true\n"), 400)
    assert nopkg["errors"][0]["message"] == "package expected"
    entries = await audit_of(api.h)
    failed = [e for e in entries if e.action == "policy.put" and e.outcome == "failure"]
    assert len(failed) == 3


async def test_every_upload_is_a_version(api: Api) -> None:
    """Each upload and the deletion are kept with who made them; each audited."""
    await api.put_policy("authz/main.rego", AUTHZ + "\nextra := 1\n")
    await api.h.client.delete("/v1/policies/authz/main.rego", headers=api.h.auth(api.writer))
    async with api.h.svc.db.transaction(write=False) as s:
        stmt = select(PolicyVersion).where(PolicyVersion.tenant_id == "acme")
        rows = (await s.scalars(stmt.execution_options(**{TENANT: "acme"}))).all()
    versions = sorted((r.version, r.raw is None) for r in rows)
    assert versions == [(1, False), (2, False), (3, True)]
    assert all(r.created_by for r in rows)
    actions = [e.action for e in await audit_of(api.h) if e.action.startswith("policy.")]
    assert actions == ["policy.put", "policy.put", "policy.delete"]


@BOTH
async def test_bundles_carry_policies_and_a_change_is_a_new_revision(api: Api) -> None:
    """The bundle holds the tenant's modules; a policy change publishes a new revision."""
    first = await api.org.bundle()
    files = unpack(first.content)
    assert files["authz/main.rego"].decode() == AUTHZ
    await api.put_policy("lib/helpers", "package lib\n\nok := true\n")
    second = await api.org.bundle()
    assert second.headers["etag"] != first.headers["etag"]
    assert "lib/helpers.rego" in unpack(second.content)


async def test_policies_carry_regorus_syntax_trees(api: Api) -> None:
    """As an OPA client reads them: `result` holds `id`, `raw` and an `ast` object per module
    (regorus's tree: its package, imports and rules, with source positions)."""
    h = api.h
    extra = "package extra.deep\n\nimport rego.v1\n\nanswer := 42\n\nok if input.x\n"
    assert (await api.put_policy("extra.rego", extra)).status_code == 200
    resp = await h.client.get("/v1/policies?pretty=true", headers=h.auth(api.reader))
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    by_id = {p["id"]: p for p in resp.json()["result"]}
    assert set(by_id) == {"authz/main.rego", "extra.rego"}
    for policy in by_id.values():
        assert isinstance(policy["raw"], str) and isinstance(policy["ast"], dict)
    tree = by_id["extra.rego"]["ast"]
    assert len(tree["imports"]) == 1 and len(tree["rules"]) == 2
    assert tree["package"]["span"]["line"] == 1
    assert "deep" in str(tree["package"]["refr"])
    one = (await h.client.get("/v1/policies/extra.rego", headers=h.auth(api.reader))).json()
    assert one["result"]["ast"] == tree
