"""GET /Users and /Groups with filters, sorting, paging and attribute selection, in SQL."""

from typing import Any

from scim2_models import EnterpriseUser, SearchRequest, User

from tests.conftest import BOTH
from tests.scim.conftest import Scim

pytestmark = BOTH
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PEOPLE: list[dict[str, Any]] = [
    {
        "userName": "ada@example.com",
        "externalId": "E-1",
        "displayName": "Ada Lovelace",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "middleName": "King"},
        "title": "Engineer",
        "nickName": "ada",
        "emails": [
            {"value": "ada@example.com", "type": "work", "primary": True},
            {"value": "ada@home.example", "type": "home"},
        ],
        "phoneNumbers": [{"value": "+44 1", "type": "mobile"}],
        ENT: {"department": "R&D", "employeeNumber": "100"},
    },
    {
        "userName": "bob@example.com",
        "externalId": "e-2",
        "displayName": "Bob Builder",
        "name": {"givenName": "Bob", "familyName": "Builder"},
        "title": "Manager",
        "active": False,
        "emails": [{"value": "bob@other.example", "type": "work"}],
        ENT: {"department": "Sales", "employeeNumber": "200"},
    },
    {
        "userName": "carol@example.com",
        "displayName": "carol",
        "emails": [{"value": "carol@example.com", "type": "home", "primary": True}],
        "addresses": [{"locality": "Paris", "country": "FR", "type": "work"}],
    },
    {"userName": "dave_100%@example.com", "title": "Engineer"},
]
CASES = [
    ('userName eq "ADA@EXAMPLE.COM"', ["ada"]),
    ('userName sw "b"', ["bob"]),
    ('userName co "_100%"', ["dave_100%"]),
    ('userName co "%"', ["dave_100%"]),
    ('userName ew ".com"', ["ada", "bob", "carol", "dave_100%"]),
    ('userName ne "ada@example.com"', ["bob", "carol", "dave_100%"]),
    ('userName gt "b" and userName lt "d"', ["bob", "carol"]),
    ('userName ge "carol@example.com"', ["carol", "dave_100%"]),
    ('externalId eq "E-1"', ["ada"]),
    ('externalId eq "e-1"', []),
    ('externalId sw "E"', ["ada"]),
    ("externalId pr", ["ada", "bob"]),
    ("not (externalId pr)", ["carol", "dave_100%"]),
    ('displayName eq "ADA LOVELACE"', ["ada"]),
    ('name.givenName sw "a"', ["ada"]),
    ('name.familyName eq "Builder"', ["bob"]),
    ('name.middleName eq "king"', ["ada"]),
    ('nickName eq "ada"', ["ada"]),
    ('title eq "engineer"', ["ada", "dave_100%"]),
    ('title ne "Engineer"', ["bob", "carol"]),
    ("active eq false", ["bob"]),
    ("active eq true", ["ada", "carol", "dave_100%"]),
    ('emails eq "bob@other.example"', ["bob"]),
    ('emails.value co "@home"', ["ada"]),
    ('emails.type eq "home"', ["ada", "carol"]),
    ('emails[type eq "work" and value co "@example.com"]', ["ada"]),
    ('emails[type eq "work"].value co "other"', ["bob"]),
    ("emails[primary eq true]", ["ada", "carol"]),
    ('emails[type eq "home" or type eq "mobile"]', ["ada", "carol"]),
    ('not (emails[type eq "work"])', ["carol", "dave_100%"]),
    ("emails pr", ["ada", "bob", "carol"]),
    ('phoneNumbers[type eq "mobile"]', ["ada"]),
    ('addresses[locality eq "paris"]', ["carol"]),
    ('addresses.country eq "FR"', ["carol"]),
    (f'{ENT}:department eq "r&d"', ["ada"]),
    (f'{ENT}:employeeNumber gt "150"', ["bob"]),
    (f"{ENT}:employeeNumber eq 100", ["ada"]),
    (f'{ENT}:manager.value eq "{{bob}}"', ["ada"]),  # {bob}: Bob's id
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com"', ["bob"]),
    ('title eq "Engineer" or title eq "Manager" and active eq false', ["ada", "bob", "dave_100%"]),
    ('(title eq "Engineer" or title eq "Manager") and active eq true', ["ada", "dave_100%"]),
    ('meta.created gt "2000-01-01T00:00:00Z"', ["ada", "bob", "carol", "dave_100%"]),
    ('meta.lastModified lt "2000-01-01T00:00:00Z"', []),
    ("title eq null", ["carol"]),
]


async def seed(scim: Scim) -> dict[str, str]:
    """Create the people; return their ids by the part of userName before @."""
    ids = {}
    for person in PEOPLE:
        doc = await scim.user(
            person["userName"], **{k: v for k, v in person.items() if k != "userName"}
        )
        ids[person["userName"].split("@")[0]] = doc["id"]
    # A manager must be a user of the tenant: Ada's is Bob, set once he exists.
    ops = [{"op": "add", "path": f"{ENT}:manager", "value": {"value": ids["bob"]}}]
    resp = await scim.http.patch(f"/Users/{ids['ada']}", json={"Operations": ops})
    assert resp.status_code == 200, resp.text
    return ids


def names(body: dict[str, Any]) -> list[str]:
    """Sorted userName prefixes of a ListResponse."""
    return sorted(r["userName"].split("@")[0] for r in body["Resources"])


async def test_filter_grammar(scim: Scim) -> None:
    """Every operator, logic with RFC precedence, grouping, value paths, extension attributes."""
    ids = await seed(scim)
    for case, expected in CASES:
        text = case.format(**ids)
        resp = await scim.http.get("/Users", params={"filter": text, "count": 50})
        assert resp.status_code == 200, (text, resp.text)
        body = resp.json()
        assert names(body) == expected, text
        assert body["totalResults"] == len(expected), text


async def test_groups_filter_on_users(scim: Scim) -> None:
    """groups.value / groups[value eq] find a group's direct members."""
    ids = await seed(scim)
    team = await scim.group("Team", [ids["ada"], ids["carol"]])
    found = await scim.http.get("/Users", params={"filter": f'groups[value eq "{team["id"]}"]'})
    assert names(found.json()) == ["ada", "carol"]
    found = await scim.http.get(
        "/Users", params={"filter": f'not (groups.value eq "{team["id"]}")'}
    )
    assert names(found.json()) == ["bob", "dave_100%"]


async def test_invalid_filters(scim: Scim) -> None:
    """Syntax errors, unknown attributes and type mismatches are 400 invalidFilter."""
    await seed(scim)
    for text in (
        'userName regex "x"',
        "userName eq",
        'userName eq "unterminated',
        "(userName pr",
        'favouriteColour eq "blue"',
        "active gt true",
        'active eq "maybe"',
        'meta.created gt "yesterday"',
        'meta.created gt "2020-01-01T00:00:00"',
        'meta.created co "2020"',
        'name[givenName eq "x"]',
        'emails[type eq "work"][value eq "x"]',
        'emails[type[value eq "x"]]',
        "x" * 5000,
    ):
        resp = await scim.http.get("/Users", params={"filter": text})
        assert resp.status_code == 400, (text, resp.text)
        assert resp.json()["scimType"] == "invalidFilter", (text, resp.text)


async def test_sorting_and_paging(scim: Scim) -> None:
    """sortBy/sortOrder (missing values last ascending), 1-based startIndex, count capped."""
    await seed(scim)

    async def page(**params: Any) -> dict[str, Any]:
        resp = await scim.http.get("/Users", params=params)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def order(body: dict[str, Any]) -> list[str]:
        return [r["userName"].split("@")[0] for r in body["Resources"]]

    assert order(await page(sortBy="userName")) == ["ada", "bob", "carol", "dave_100%"]
    assert order(await page(sortBy="userName", sortOrder="descending"))[0] == "dave_100%"
    assert order(await page(sortBy="title")) == ["ada", "dave_100%", "bob", "carol"]
    assert order(await page(sortBy="title", sortOrder="descending"))[0] == "carol"
    assert order(await page(sortBy="emails"))[-1] == "dave_100%"
    assert order(await page(sortBy=f"{ENT}:employeeNumber"))[:2] == ["ada", "bob"]
    second = await page(sortBy="userName", startIndex=2, count=2)
    assert (second["startIndex"], second["itemsPerPage"], second["totalResults"]) == (2, 2, 4)
    assert order(second) == ["bob", "carol"]
    beyond = await page(startIndex=10)
    assert (beyond["totalResults"], beyond["Resources"]) == (4, [])
    only_count = await page(count=0)
    assert (only_count["totalResults"], only_count["Resources"]) == (4, [])
    clamped = await page(startIndex=-3, count=100_000)
    assert (clamped["startIndex"], clamped["itemsPerPage"]) == (1, 4)
    bad = await scim.http.get("/Users", params={"sortBy": "emails.nonsense"})
    assert bad.status_code == 400
    assert (await scim.http.get("/Users", params={"sortOrder": "sideways"})).status_code == 400


async def test_attribute_selection_and_search(scim: Scim) -> None:
    """attributes/excludedAttributes trim the resources; POST /.search takes a SearchRequest."""
    await seed(scim)
    some = await scim.http.get(
        "/Users",
        params={
            "filter": 'userName eq "ada@example.com"',
            "attributes": f"userName,{ENT}:department",
        },
    )
    (ada,) = some.json()["Resources"]
    assert set(ada) == {"schemas", "id", "userName", ENT}
    assert ada[ENT] == {"department": "R&D"}
    fewer = await scim.http.get(
        "/Users",
        params={"filter": 'userName eq "ada@example.com"', "excludedAttributes": "emails,meta"},
    )
    (ada,) = fewer.json()["Resources"]
    assert "emails" not in ada and "meta" not in ada and ada["name"]["givenName"] == "Ada"
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'title eq "Engineer"',
        "sortBy": "userName",
        "sortOrder": "descending",
        "startIndex": 1,
        "count": 1,
        "attributes": ["userName"],
    }
    found = (await scim.http.post("/Users/.search", json=body)).json()
    assert found["totalResults"] == 2
    assert [r["userName"] for r in found["Resources"]] == ["dave_100%@example.com"]
    bad = await scim.http.post("/Users/.search", json={"filter": 'title zz "x"'})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
    assert (await scim.http.post("/Users/.search", json={"count": "ten"})).status_code == 400


async def test_scim2_client_queries(scim: Scim) -> None:
    """scim2-client lists with a SearchRequest and reads the ListResponse."""
    await seed(scim)
    model = User[EnterpriseUser]
    request = SearchRequest[model](filter='emails[type eq "work"]', sort_by="userName", count=10)
    listed = await scim.client.query(model, query_parameters=request)
    assert listed.total_results == 2
    assert [u.user_name for u in listed.resources or []] == ["ada@example.com", "bob@example.com"]
    searched = await scim.client.search(model, request)
    assert searched.total_results == 2
