"""What the service says about itself: /ServiceProviderConfig, /ResourceTypes, /Schemas."""

from __future__ import annotations

from functools import cache
from typing import Any

from scim2_models import (
    URI,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Meta,
    Pagination,
    Patch,
    Reference,
    ResourceType,
    SchemaExtension,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
)

from gatehouse.scim.schema import ENTERPRISE, User

MAX_RESULTS = 1000
DEFAULT_COUNT = 100

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=True, max_operations=1000, max_payload_size=1_048_576),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=True),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="OAuth Bearer Token",
            description="A Gatehouse API token with the scim:read or scim:write scope, "
            "sent as `Authorization: Bearer gth_...`.",
            spec_uri="https://www.rfc-editor.org/rfc/rfc6750",
            primary=True,
        )
    ],
    pagination=Pagination(
        cursor=False,
        index=True,
        default_pagination_method=Pagination.DefaultPaginationMethod.index,
        default_page_size=DEFAULT_COUNT,
        max_page_size=MAX_RESULTS,
    ),
)

RESOURCE_TYPES = [
    ResourceType(
        id="User",
        name="User",
        description="A person or service account in the identity store.",
        endpoint=Reference[URI]("/Users"),
        schema_=Reference[URI](str(User.__schema__)),
        schema_extensions=[SchemaExtension(schema_=Reference[URI](ENTERPRISE), required=False)],
    ),
    ResourceType(
        id="Group",
        name="Group",
        description="A named set of users and groups (groups may nest).",
        endpoint=Reference[URI]("/Groups"),
        schema_=Reference[URI](str(Group.__schema__)),
        schema_extensions=[],
    ),
]

PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group], resource_types=RESOURCE_TYPES, config=CONFIG
)

# Where the store is stricter than the generic schemas: group names are unique per tenant.
UNIQUE = {(str(Group.__schema__), "displayName"): "server"}


def _dump(resource: Any) -> dict[str, Any]:
    return dict(resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def bulk_limits(max_operations: int, max_payload_size: int) -> Bulk:
    """What /Bulk accepts (the GATEHOUSE_SCIM_BULK_* settings)."""
    return Bulk(supported=True, max_operations=max_operations, max_payload_size=max_payload_size)


def service_provider_config(base: str, bulk: Bulk | None = None) -> dict[str, Any]:
    """The /ServiceProviderConfig document."""
    meta = Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig")
    return _dump(CONFIG.model_copy(update={"meta": meta, "bulk": bulk or CONFIG.bulk}))


def resource_types(base: str) -> list[dict[str, Any]]:
    """Every /ResourceTypes document."""
    return [
        _dump(
            rt.model_copy(
                update={
                    "meta": Meta(
                        resource_type="ResourceType", location=f"{base}/ResourceTypes/{rt.id}"
                    )
                }
            )
        )
        for rt in RESOURCE_TYPES
    ]


@cache
def _schemas() -> tuple[dict[str, Any], ...]:
    docs = []
    for schema in PROVIDER.schemas:
        doc = _dump(schema)
        for attribute in doc.get("attributes", []):
            unique = UNIQUE.get((doc["id"], attribute["name"]))
            if unique:
                attribute["uniqueness"] = unique
        docs.append(doc)
    return tuple(docs)


def schemas(base: str) -> list[dict[str, Any]]:
    """Every /Schemas document."""
    return [
        {**doc, "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{doc['id']}"}}
        for doc in _schemas()
    ]
