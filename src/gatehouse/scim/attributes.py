"""Which SCIM attributes can be filtered and sorted on, and where the store keeps them."""

from __future__ import annotations

from collections.abc import Mapping

from gatehouse.identity.models import Group, Identity, Membership
from gatehouse.scim.where import Attribute, Elements, Kind, Scalar, json_list, related

ENTERPRISE_KEY = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
PLURAL: Mapping[str, Kind] = {
    "value": "string",
    "display": "string",
    "type": "string",
    "primary": "boolean",
}
ADDRESS: Mapping[str, Kind] = {
    "formatted": "string",
    "streetAddress": "string",
    "locality": "string",
    "region": "string",
    "postalCode": "string",
    "country": "string",
    "type": "string",
    "primary": "boolean",
}
# JSON keys are stored in SCIM's camelCase; filters arrive lower-cased.
CAMEL = {
    "nickname": "nickName",
    "profileurl": "profileUrl",
    "usertype": "userType",
    "preferredlanguage": "preferredLanguage",
    "locale": "locale",
    "timezone": "timezone",
}
NAME_PARTS = {
    "formatted": "formatted",
    "middlename": "middleName",
    "honorificprefix": "honorificPrefix",
    "honorificsuffix": "honorificSuffix",
}
LISTS = {
    "emails": "emails",
    "phonenumbers": "phoneNumbers",
    "ims": "ims",
    "photos": "photos",
    "entitlements": "entitlements",
    "roles": "roles",
}


def _user_attributes() -> dict[str, Attribute]:
    ext = ENTERPRISE_KEY
    attrs: dict[str, Attribute] = {
        "id": Scalar(Identity.id.expression, case_exact=True),
        "externalid": Scalar(Identity.external_id.expression, case_exact=True),
        "username": Scalar(Identity.user_name_key.expression, lowered=True),
        "displayname": Scalar(Identity.display_name.expression),
        "name.givenname": Scalar(Identity.given_name.expression),
        "name.familyname": Scalar(Identity.family_name.expression),
        "title": Scalar(Identity.title.expression),
        "active": Scalar(Identity.active.expression, "boolean"),
        "meta.created": Scalar(Identity.created_at.expression, "datetime"),
        "meta.lastmodified": Scalar(Identity.updated_at.expression, "datetime"),
        f"{ext}:employeenumber": Scalar(Identity.employee_number.expression),
        f"{ext}:department": Scalar(Identity.department.expression),
        f"{ext}:organization": Scalar(Identity.organization.expression),
        f"{ext}:costcenter": Scalar(Identity.cost_center.expression),
        f"{ext}:manager.value": Scalar(Identity.manager_id.expression, case_exact=True),
        f"{ext}:division": Scalar(Identity.attributes["division"].as_string()),
    }
    for lower, key in CAMEL.items():
        attrs[lower] = Scalar(Identity.attributes[key].as_string())
    for lower, key in NAME_PARTS.items():
        attrs[f"name.{lower}"] = Scalar(Identity.attributes[("name", key)].as_string())
    for lower, key in LISTS.items():
        attrs[lower] = json_list(Identity.attributes.expression, key, PLURAL)
    attrs["addresses"] = json_list(Identity.attributes.expression, "addresses", ADDRESS)
    emails = attrs["emails"]
    assert isinstance(emails, Elements)
    attrs["emails"] = Elements(emails.scope, "value", Scalar(Identity.email.expression))
    attrs["groups"] = related(
        Membership,
        lambda: [
            Membership.tenant_id == Identity.tenant_id,
            Membership.member_id == Identity.id,
        ],
        {"value": Scalar(Membership.group_id.expression, case_exact=True)},
    )
    return attrs


def _group_attributes() -> dict[str, Attribute]:
    return {
        "id": Scalar(Group.id.expression, case_exact=True),
        "externalid": Scalar(Group.external_id.expression, case_exact=True),
        "displayname": Scalar(Group.display_name_key.expression, lowered=True),
        "meta.created": Scalar(Group.created_at.expression, "datetime"),
        "meta.lastmodified": Scalar(Group.updated_at.expression, "datetime"),
        "members": related(
            Membership,
            lambda: [
                Membership.tenant_id == Group.tenant_id,
                Membership.group_id.expression == Group.id,
            ],
            {
                "value": Scalar(Membership.member_id.expression, case_exact=True),
                "type": Scalar(
                    Membership.member_type.expression, values={"user": "identity", "group": "group"}
                ),
            },
        ),
    }


USER_ATTRIBUTES = _user_attributes()
GROUP_ATTRIBUTES = _group_attributes()
# What sortBy accepts: single-valued attributes, and `emails` by its primary value.
USER_SORT = {k: v for k, v in USER_ATTRIBUTES.items() if isinstance(v, Scalar)} | {
    "emails": Scalar(Identity.email.expression),
    "emails.value": Scalar(Identity.email.expression),
}
GROUP_SORT = {k: v for k, v in GROUP_ATTRIBUTES.items() if isinstance(v, Scalar)}
