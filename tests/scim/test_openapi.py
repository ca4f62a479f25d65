"""The SCIM request bodies /openapi.json documents are what the server takes: valid bodies
validate, and an unknown member at any level, which the schema forbids, is refused."""

from typing import Any

import jsonschema

from tests.scim.conftest import SCIM_JSON, Scim

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def request_schema(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The documented SCIM body of an operation."""
    schema: dict[str, Any] = spec["paths"][path][method]["requestBody"]["content"][SCIM_JSON][
        "schema"
    ]
    return schema


def with_unknown(doc: Any, where: tuple[str | int, ...]) -> Any:
    """A copy of `doc` with an unknown member added to the object at `where`."""
    if not where:
        return {**doc, "shoeSize": 44}
    head, rest = where[0], where[1:]
    if isinstance(doc, list):
        assert isinstance(head, int)
        return [with_unknown(v, rest) if i == head else v for i, v in enumerate(doc)]
    return {**doc, str(head): with_unknown(doc[str(head)], rest)}


async def test_documented_request_bodies_match_the_server(scim: Scim) -> None:
    """Every SCIM body schema forbids unknown members; the server refuses them everywhere."""
    spec = (await scim.h.client.get("/openapi.json")).json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if path.startswith("/scim/v2") and "requestBody" in op:
                assert request_schema(spec, path, method)["additionalProperties"] is False, path
    boss = (await scim.user("boss@a.test"))["id"]
    user = await scim.user("ada@a.test")
    url = f"/Users/{user['id']}"
    user_body = {
        "schemas": [CORE, ENT],
        "userName": "new@a.test",
        "name": {"givenName": "New"},
        "emails": [{"value": "new@a.test", "type": "work"}],
        ENT: {"department": "R&D", "manager": {"value": boss}},
    }
    patch_body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "title", "value": "Dr"}],
    }
    search_body = {"filter": 'userName sw "a"', "count": 5, "sortOrder": "descending"}
    bulk_body = {
        "schemas": [BULK],
        "Operations": [{"method": "PATCH", "path": url, "data": patch_body}],
    }
    cases: list[tuple[str, str, str, dict[str, Any], list[tuple[str | int, ...]]]] = [
        ("/scim/v2/Users", "post", "/Users", user_body, [(), ("name",), ("emails", 0), (ENT,)]),
        ("/scim/v2/Users/{ident}", "put", url, {**user_body, "userName": "ada@a.test"}, [()]),
        ("/scim/v2/Users/{ident}", "patch", url, patch_body, [(), ("Operations", 0)]),
        ("/scim/v2/Users/.search", "post", "/Users/.search", search_body, [()]),
        ("/scim/v2/Groups", "post", "/Groups", {"schemas": [GROUP], "displayName": "T"}, [()]),
        ("/scim/v2/Bulk", "post", "/Bulk", bulk_body, [()]),
    ]
    for path, method, url_, doc, places in cases:
        schema = request_schema(spec, path, method)
        jsonschema.validate(doc, schema)
        before = await scim.counts()
        for where in places:
            bad = with_unknown(doc, where)
            try:
                jsonschema.validate(bad, schema)
            except jsonschema.ValidationError:
                pass
            else:
                raise AssertionError(f"{path} {method} documents {where} as open")
            resp = await scim.http.request(method.upper(), url_, json=bad)
            assert resp.status_code == 400, (path, method, where, resp.text)
            assert resp.json()["scimType"] == "invalidSyntax", resp.text
        assert await scim.counts() == before
        resp = await scim.http.request(method.upper(), url_, json=doc)
        assert resp.status_code in (200, 201), (path, method, resp.text)
