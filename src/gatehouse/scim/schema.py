"""The SCIM User served: scim2-models' User, with email values taken as IdPs send them."""

import re
from typing import ClassVar

import scim2_models
from pydantic import field_validator
from scim2_models import AnyExtension, ComplexAttribute, EnterpriseUser

ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


class Email(scim2_models.Email):
    """An email address; RFC 7643 only recommends RFC 5321, and IdPs send internal domains."""

    value: str | None = None
    """Email addresses for the user (internal domains such as corp.local are accepted)."""

    @field_validator("value")
    @classmethod
    def _looks_like_an_address(cls, value: str | None) -> str | None:
        if value is not None and not ADDRESS.fullmatch(value):
            raise ValueError("an email address is local-part@domain")
        return value


class User(scim2_models.User[AnyExtension]):
    """User Account (RFC 7643 §4.1), with email values as IdPs send them."""

    emails: list[Email] | None = None  # type: ignore[assignment]
    """Email addresses for the user."""

    Emails: ClassVar[type[ComplexAttribute]] = Email


USER = User[EnterpriseUser]
ENTERPRISE = str(EnterpriseUser.__schema__)
