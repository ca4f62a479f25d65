"""POST /Bulk: operations through the single-resource code, bulkId references in dependency
order, failOnErrors, limits, and bad input that changes nothing it should not."""

from __future__ import annotations

from typing import Any

from scim2_models import (
    BulkOperation,
    BulkRequest,
    BulkResponse,
    EnterpriseUser,
    Error,
    Group,
    PatchOp,
    PatchOperation,
    User,
)
from sqlalchemy import select

from gatehouse.audit.models import AuditEntry
from gatehouse.db.tenancy import TENANT
from tests.conftest import BOTH, started
from tests.scim.conftest import HttpxSCIMClient, Scim, scim_http
from tests.scim.test_errors import scim_error

pytestmark = BOTH
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
CORE = str(User.__schema__)
GROUP = str(Group.__schema__)
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def bulk(*operations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A BulkRequest body."""
    return {"schemas": [BULK], "Operations": list(operations), **extra}


def new_user(bulk_id: str, user_name: str, **data: Any) -> dict[str, Any]:
    """A POST /Users operation."""
    body = {"schemas": [CORE], "userName": user_name, **data}
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": body}


def new_group(bulk_id: str, name: str, members: list[str]) -> dict[str, Any]:
    """A POST /Groups operation."""
    body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": body}


async def run(scim: Scim, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Send a BulkRequest that must succeed as a whole; its per-operation results."""
    resp = await scim.http.post("/Bulk", json=body)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["schemas"] == [BULK_RESPONSE]
    return list(doc["Operations"])


def statuses(results: list[dict[str, Any]]) -> list[str]:
    """Each result's status."""
    return [r["status"] for r in results]


async def test_scim2_client_bulk_with_forward_references(scim: Scim) -> None:
    """scim2-client sends a job whose group names a user created later in the list; the user
    is created first, the group gets it, and a PATCH and a DELETE by bulkId follow."""
    client = HttpxSCIMClient(scim.http)
    await client.discover()
    config = client.provider.config
    assert config is not None and config.bulk is not None and config.bulk.supported
    assert (config.bulk.max_operations, config.bulk.max_payload_size) == (1000, 1_048_576)
    team = Group(display_name="Team", members=[Group.Members(value="bulkId:ada")])
    ada = User[EnterpriseUser](user_name="ada@example.com", title="Engineer")
    patch = PatchOp[User[EnterpriseUser]](
        operations=[
            PatchOperation[User[EnterpriseUser]](
                op=PatchOperation.Op.replace_, path="title", value="CTO"
            )
        ]
    )
    request = BulkRequest[User[EnterpriseUser] | Group](
        operations=[
            BulkOperation[Group](method="POST", path="/Groups", bulk_id="team", data=team),
            BulkOperation[User[EnterpriseUser]](
                method="POST", path="/Users", bulk_id="ada", data=ada
            ),
            BulkOperation[User[EnterpriseUser]](
                method="PATCH", path="/Users/bulkId:ada", data=patch
            ),
        ]
    )
    response = await client.bulk(request)
    assert isinstance(response, BulkResponse), response
    results = response.operations or []
    assert [(r.method, r.bulk_id, r.status) for r in results] == [
        ("POST", "team", 201),
        ("POST", "ada", 201),
        ("PATCH", None, 200),
    ]
    user_id = str(results[1].location).rsplit("/", 1)[1]
    group = (await scim.http.get(str(results[0].location))).json()
    assert [m["value"] for m in group["members"]] == [user_id]
    user = (await scim.http.get(f"/Users/{user_id}")).json()
    assert user["title"] == "CTO"
    assert results[2].version == user["meta"]["version"] == 'W/"2"'
    assert str(results[2].location).endswith(f"/Users/{user_id}")


async def test_each_operation_is_the_single_route(scim: Scim) -> None:
    """PUT, PATCH and DELETE act like their routes: versions are If-Match, uniqueness holds,
    every write is audited and evented, and a failed operation leaves nothing behind."""
    ada = await scim.user("ada@example.com")
    bob = await scim.user("bob@example.com")
    events_before = (await scim.counts())[0]
    results = await run(
        scim,
        bulk(
            {
                "method": "PUT",
                "path": f"/Users/{ada['id']}",
                "version": 'W/"1"',
                "data": {"schemas": [CORE], "userName": "ada@example.com", "title": "CTO"},
            },
            {
                "method": "PATCH",
                "path": f"/Users/{bob['id']}",
                "version": 'W/"9"',
                "data": {
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "path": "title", "value": "x"}],
                },
            },
            new_user("dup", "ADA@example.com"),
            {"method": "DELETE", "path": f"/Users/{bob['id']}", "version": 'W/"1"'},
            {"method": "DELETE", "path": "/Users/no-such-user"},
        ),
    )
    assert statuses(results) == ["200", "412", "409", "204", "404"]
    assert results[0]["version"] == 'W/"2"'
    assert results[2]["response"]["scimType"] == "uniqueness"
    assert "location" not in results[2]  # a failed POST has none (RFC 7644 §3.7.3)
    assert results[3]["location"].endswith(f"/Users/{bob['id']}")
    assert results[4]["location"].endswith("/Users/no-such-user")
    assert (await scim.http.get(f"/Users/{ada['id']}")).json()["title"] == "CTO"
    assert (await scim.http.get(f"/Users/{bob['id']}")).status_code == 404
    events, identities, _, _ = await scim.counts()
    assert (events - events_before, identities) == (2, 2)  # ada updated, bob deleted
    async with scim.h.svc.db.transaction(write=False) as s:
        rows = await s.execute(
            select(AuditEntry.action, AuditEntry.outcome, AuditEntry.target_id)
            .order_by(AuditEntry.seq.desc())
            .limit(5)
            .execution_options(**{TENANT: "acme"})
        )
        audited = [tuple(row) for row in reversed(rows.all())]
    assert audited == [
        ("identity.updated", "success", ada["id"]),
        ("scim.user.patch", "failure", bob["id"]),
        ("scim.user.create", "failure", ""),
        ("identity.deleted", "success", bob["id"]),
        ("scim.user.delete", "failure", "no-such-user"),
    ]


async def test_fail_on_errors_stops_and_reports_what_was_done(scim: Scim) -> None:
    """failOnErrors 2: the job stops at the second error; later operations never run."""
    body = bulk(
        new_user("a", "a@example.com"),
        new_user("bad", "", title="x"),
        new_user("b", "b@example.com"),
        new_user("a2", "A@example.com"),
        new_user("c", "c@example.com"),
        failOnErrors=2,
    )
    results = await run(scim, body)
    assert [(r["bulkId"], r["status"]) for r in results] == [
        ("a", "201"),
        ("bad", "400"),
        ("b", "201"),
        ("a2", "409"),
    ]
    assert results[1]["response"]["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert (await scim.counts())[1] == 2  # a and b; c never ran
    listed = (
        await scim.http.get("/Users", params={"filter": 'userName eq "c@example.com"'})
    ).json()
    assert listed["totalResults"] == 0


async def test_references_to_unknown_failed_and_circular_bulk_ids(scim: Scim) -> None:
    """Unknown bulkId 400, a failed one's dependants 409, a cycle 409 for each of its
    operations; the rest of the job runs and nothing hangs."""
    body = bulk(
        new_group("g1", "Cycle one", ["bulkId:g2"]),
        new_group("g2", "Cycle two", ["bulkId:g1"]),
        new_group("g3", "Needs the cycle", ["bulkId:g1"]),
        new_group("g4", "Needs a ghost", ["bulkId:ghost"]),
        new_user("broken", "x" * 300),
        new_group("g5", "Needs the broken user", ["bulkId:broken"]),
        new_user("self", "self@example.com", displayName="bulkId:self"),
        new_user("fine", "fine@example.com"),
        new_group("g6", "Fine", ["bulkId:fine"]),
    )
    before = await scim.counts()
    results = await run(scim, body)
    got = [(r["bulkId"], r["status"], r.get("response", {}).get("scimType")) for r in results]
    assert got == [
        ("g1", "409", "invalidValue"),
        ("g2", "409", "invalidValue"),
        ("g3", "409", "invalidValue"),
        ("g4", "400", "invalidValue"),
        ("broken", "400", "invalidValue"),
        ("g5", "409", "invalidValue"),
        ("self", "409", "invalidValue"),
        ("fine", "201", None),
        ("g6", "201", None),
    ]
    assert "cycle" in results[0]["response"]["detail"]
    assert "bulkId:ghost" in results[3]["response"]["detail"]
    assert "failed" in results[5]["response"]["detail"]
    _, identities, groups, memberships = await scim.counts()
    assert (identities, groups, memberships) == (before[1] + 1, before[2] + 1, before[3] + 1)


async def test_references_in_paths_and_values_resolve_in_dependency_order(scim: Scim) -> None:
    """A PATCH before the POST it names waits for it; a manager reference resolves too."""
    body = bulk(
        {
            "method": "PATCH",
            "path": "/Groups/bulkId:ops",
            "data": {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": "bulkId:report"}]}
                ],
            },
        },
        new_user(
            "report",
            "report@example.com",
            **{
                "schemas": [CORE, str(EnterpriseUser.__schema__)],
                str(EnterpriseUser.__schema__): {"manager": {"value": "bulkId:boss"}},
            },
        ),
        new_user("boss", "boss@example.com"),
        new_group("ops", "Ops", []),
    )
    results = await run(scim, body)
    assert statuses(results) == ["200", "201", "201", "201"]
    boss_id = results[2]["location"].rsplit("/", 1)[1]
    report = (await scim.http.get(results[1]["location"])).json()
    assert report[str(EnterpriseUser.__schema__)]["manager"]["value"] == boss_id
    group = (await scim.http.get(results[3]["location"])).json()
    assert [m["value"] for m in group["members"]] == [report["id"]]
    assert results[0]["location"] == results[3]["location"]


async def test_bad_requests_change_nothing(scim: Scim) -> None:
    """Malformed bodies, wrong schemas, bad failOnErrors and duplicate bulkIds refuse the
    whole request; bad operations fail alone."""
    before = await scim.counts()
    http = scim.http
    scim_error(await http.post("/Bulk", content=b'{"Operations": ['), 400, "invalidSyntax")
    scim_error(await http.post("/Bulk", json=[]), 400, "invalidSyntax")
    scim_error(await http.post("/Bulk", json={"Operations": []}), 400, "invalidSyntax")
    wrong = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}
    scim_error(await http.post("/Bulk", json=wrong), 400, "invalidSyntax")
    scim_error(await http.post("/Bulk", json=bulk(extra=1)), 400, "invalidSyntax")
    scim_error(await http.post("/Bulk", json=bulk(Operations=None)), 400, "invalidSyntax")
    scim_error(await http.post("/Bulk", json=bulk("not an object")), 400, "invalidSyntax")
    for fail in (0, -1, "1", True, 1.5):
        body = bulk(new_user("a", "a@example.com"), failOnErrors=fail)
        scim_error(await http.post("/Bulk", json=body), 400, "invalidValue")
    twice = bulk(new_user("a", "a@example.com"), new_user("a", "b@example.com"))
    scim_error(await http.post("/Bulk", json=twice), 400, "invalidValue")
    assert await scim.counts() == before
    assert await run(scim, bulk()) == []
    results = await run(
        scim,
        bulk(
            {"method": "GET", "path": "/Users", "bulkId": "g"},
            {"method": "POST", "path": "/Pets", "bulkId": "p", "data": {}},
            {"method": "POST", "path": "/Users/123", "bulkId": "q", "data": {}},
            {"method": "PUT", "path": "/Users", "data": {}},
            {"method": "PATCH", "path": "/Schemas/x", "data": {}},
            {"method": "DELETE", "path": "/Users/../Groups/x"},
            {"method": "POST", "path": "/Users", "data": {"userName": "nobulkid"}},
            {"method": "POST", "path": "/Users", "bulkId": "d", "data": "userName"},
            {"method": "POST", "path": "/Users", "bulkId": "e", "data": {"nope": 1}},
            {"method": "POST", "path": "/Users", "bulkId": "f", "data": {}, "colour": "red"},
            {"method": "PUT", "path": "/Users/x", "version": 3, "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "", "data": {}},
        ),
    )
    assert [r["response"].get("scimType") for r in results] == [
        "invalidValue",
        "invalidPath",
        "invalidPath",
        "invalidPath",
        "invalidPath",
        "invalidPath",
        "invalidValue",
        "invalidSyntax",
        "invalidSyntax",
        "invalidSyntax",
        "invalidValue",
        "invalidValue",
    ]
    assert all(r["status"] == "400" for r in results)
    assert await scim.counts() == before


async def test_deep_data_is_refused(scim: Scim) -> None:
    """data nested deeper than any resource is refused for that operation, not a crash."""
    deep: Any = "leaf"
    for _ in range(200):
        deep = [deep]
    results = await run(scim, bulk(new_user("deep", "deep@example.com", nickName=deep)))
    assert results[0]["status"] == "400"
    assert results[0]["response"]["scimType"] == "invalidSyntax"


async def test_limits(scim: Scim) -> None:
    """More operations than maxOperations, or a body over maxPayloadSize, is 413 with a SCIM
    error, before anything is written."""
    h = scim.h
    settings = h.svc.settings.model_copy(
        update={"scim_bulk_max_operations": 3, "scim_bulk_max_payload_bytes": 4096}
    )
    async with started(settings) as small:
        await small.tenant("small")
        token = await small.token("small", "scim:write")
        async with scim_http(small, token) as http:
            config = (await http.get("/ServiceProviderConfig")).json()["bulk"]
            assert config == {"supported": True, "maxOperations": 3, "maxPayloadSize": 4096}
            four = bulk(*(new_user(f"u{i}", f"u{i}@example.com") for i in range(4)))
            error = scim_error(await http.post("/Bulk", json=four), 413, "tooMany")
            assert "at most 3" in error["detail"]
            padded = bulk(new_user("big", "big@example.com", nickName="x" * 5000))
            scim_error(await http.post("/Bulk", json=padded), 413)

            async def streamed() -> Any:
                for _ in range(5):
                    yield b" " * 1000

            chunked = await http.post("/Bulk", content=streamed())
            scim_error(chunked, 413)
            three = bulk(*(new_user(f"u{i}", f"u{i}@example.com") for i in range(3)))
            assert (await http.post("/Bulk", json=three)).status_code == 200
            # The ordinary body limit still applies elsewhere, in the SCIM error shape too.
            big_user = {"schemas": [CORE], "userName": "x", "nickName": "y" * 1_100_000}
            scim_error(await http.post("/Users", json=big_user), 413)
    assert (await scim.counts())[1] == 3  # the three of the job within the limits


async def test_bulk_counts_each_operation_against_the_rate_limit(scim: Scim) -> None:
    """A job of N operations spends N + 1 of the budget; one larger than the budget is 429."""
    h = scim.h
    token = await h.token("acme", "scim:write", rate_limit_per_minute=10)
    async with scim_http(h, token) as http:
        five = bulk(*(new_user(f"r{i}", f"r{i}@example.com") for i in range(5)))
        ok = await http.post("/Bulk", json=five)
        assert ok.status_code == 200
        assert ok.headers["ratelimit"].startswith('"token";r=4;')
        eleven = bulk(*(new_user(f"s{i}", f"s{i}@example.com") for i in range(11)))
        refused = scim_error(await http.post("/Bulk", json=eleven), 429)
        assert "send fewer operations" in refused["detail"]
    assert (await scim.counts())[1] == 5


async def test_bulk_needs_write_scope_and_stays_in_its_tenant(scim: Scim) -> None:
    """scim:read cannot run a job; another tenant's ids are not found."""
    h = scim.h
    async with scim_http(h, await h.token("acme", "scim:read")) as reader:
        scim_error(await reader.post("/Bulk", json=bulk(new_user("a", "a@x.com"))), 403)
    async with scim_http(h, await h.token("other", "scim:write")) as other:
        theirs = (await other.post("/Users", json={"schemas": [CORE], "userName": "t@x"})).json()
    results = await run(scim, bulk({"method": "DELETE", "path": f"/Users/{theirs['id']}"}))
    assert statuses(results) == ["404"]
    async with scim_http(h, await h.token("other", "scim:read")) as other:
        assert (await other.get(f"/Users/{theirs['id']}")).status_code == 200


async def test_response_parses_as_a_bulk_response(scim: Scim) -> None:
    """Successes and failures alike validate as scim2-models' BulkResponse."""
    body = bulk(new_user("a", "a@example.com"), new_user("b", ""))
    resp = await scim.http.post("/Bulk", json=body)
    parsed = BulkResponse[User[EnterpriseUser] | Group].model_validate(resp.json())
    failed = (parsed.operations or [])[1]
    assert failed.status == 400 and isinstance(failed.response, Error)
