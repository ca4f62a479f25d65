"""Discovery documents tell the truth, and scim2-client can build its view of us from them."""

from scim2_models import EnterpriseUser, Group, User

from tests.scim.conftest import HttpxSCIMClient, Scim

ENTERPRISE = str(EnterpriseUser.__schema__)


async def test_service_provider_config(scim: Scim) -> None:
    """Patch, filter (maxResults), sort, ETags and bulk (with its limits) on; password
    changes off."""
    config = (await scim.http.get("/ServiceProviderConfig")).json()
    assert config["patch"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": 1000}
    assert config["sort"] == {"supported": True}
    assert config["etag"] == {"supported": True}
    assert config["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
    assert config["changePassword"] == {"supported": False}
    assert [s["type"] for s in config["authenticationSchemes"]] == ["oauthbearertoken"]
    assert config["meta"]["location"].endswith("/scim/v2/ServiceProviderConfig")


async def test_resource_types_and_schemas(scim: Scim) -> None:
    """User (with the enterprise extension) and Group, each also by id; filters refused."""
    types = (await scim.http.get("/ResourceTypes")).json()
    assert types["totalResults"] == 2
    user_type = next(t for t in types["Resources"] if t["id"] == "User")
    assert user_type["endpoint"] == "/Users"
    assert user_type["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert (await scim.http.get("/ResourceTypes/Group")).json()["endpoint"] == "/Groups"
    assert (await scim.http.get("/ResourceTypes/Pet")).status_code == 404
    listed = (await scim.http.get("/Schemas")).json()
    ids = {s["id"] for s in listed["Resources"]}
    assert ids == {str(User.__schema__), ENTERPRISE, str(Group.__schema__)}
    group = (await scim.http.get(f"/Schemas/{Group.__schema__}")).json()
    display = next(a for a in group["attributes"] if a["name"] == "displayName")
    assert display["uniqueness"] == "server"
    assert (await scim.http.get("/Schemas/urn:nope")).status_code == 404
    assert (await scim.http.get("/Schemas", params={"filter": "id pr"})).status_code == 403


async def test_scim2_client_discovers_the_service(scim: Scim) -> None:
    """A client that knows nothing learns our resource types and schemas, then uses them."""
    client = HttpxSCIMClient(scim.http)
    await client.discover()
    assert client.provider.config is not None
    assert client.provider.config.patch is not None and client.provider.config.patch.supported
    user_model = client.get_resource_model("User")
    assert user_model is not None
    created = await client.create(user_model(user_name="discovered@example.com"))
    assert created.id
    found = await client.query(user_model, created.id)
    assert found.user_name == "discovered@example.com"
