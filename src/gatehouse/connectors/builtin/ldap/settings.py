"""The LDAP connection's configuration: its JSON Schema, validation and per-flavor defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from gatehouse.connectors.protocol import CheckFailure, ConnectorError


class Flavor(StrEnum):
    """Which directory conventions apply."""

    openldap = "openldap"
    active_directory = "active_directory"


# Attributes that hold credentials: never read unless a configuration names them explicitly.
SECRET_ATTRIBUTES = frozenset(
    name.lower()
    for name in (
        "userPassword",
        "authPassword",
        "unicodePwd",
        "dBCSPwd",
        "ntPwdHistory",
        "lmPwdHistory",
        "supplementalCredentials",
        "msDS-ManagedPassword",
        "ms-Mcs-AdmPwd",
        "msLAPS-Password",
        "msLAPS-EncryptedPassword",
        "sambaNTPassword",
        "sambaLMPassword",
        "sambaPasswordHistory",
        "krbPrincipalKey",
        "pwdHistory",
    )
)

DEFAULTS: dict[Flavor, dict[str, Any]] = {
    Flavor.openldap: {
        "id_attribute": "entryUUID",
        "cursor_attribute": "modifyTimestamp",
        "user_object_classes": ["inetOrgPerson"],
        "user_filter": None,
        "group_object_classes": ["groupOfNames", "groupOfUniqueNames"],
        "group_filter": None,
        "member_attributes": ["member", "uniqueMember"],
        "scalar_attributes": [
            "uid",
            "cn",
            "sn",
            "givenName",
            "mail",
            "title",
            "o",
            "ou",
            "telephoneNumber",
            "mobile",
            "description",
        ],
    },
    Flavor.active_directory: {
        "id_attribute": "objectGUID",
        "cursor_attribute": "whenChanged",
        "user_object_classes": ["user"],
        "user_filter": "(!(objectClass=computer))",
        "group_object_classes": ["group"],
        "group_filter": None,
        "member_attributes": ["member"],
        "scalar_attributes": [
            "cn",
            "sn",
            "givenName",
            "mail",
            "title",
            "department",
            "company",
            "telephoneNumber",
            "mobile",
            "description",
        ],
    },
}


_ITEM = re.compile(r"[A-Za-z0-9][\w.;:-]*(?:~=|>=|<=|:=|=)(?:[^()\\]|\\[0-9A-Fa-f]{2})*")


def well_formed(text: str) -> bool:
    """Whether `text` is one RFC 4515 filter: (&..), (|..), (!..) or (attr op value)."""

    def parse(at: int) -> int:  # index after the filter starting at `at`, or -1
        if at >= len(text) or text[at] != "(":
            return -1
        at += 1
        if at < len(text) and text[at] in "&|!":
            op, at, count = text[at], at + 1, 0
            while at < len(text) and text[at] == "(":
                at, count = parse(at), count + 1
                if at < 0:
                    return -1
            if count == 0 or (op == "!" and count != 1):
                return -1
        else:
            match = _ITEM.match(text, at)
            if not match:
                return -1
            at = match.end()
        return at + 1 if at < len(text) and text[at] == ")" else -1

    return parse(0) == len(text)


def _secret() -> Any:
    return Field(
        None,
        description="Password of the bind DN.",
        json_schema_extra={"x-secret": True, "format": "password", "writeOnly": True},
    )


class LdapSettings(BaseModel):
    """One LDAP or Active Directory source; unset fields take the flavor's defaults."""

    model_config = ConfigDict(extra="forbid", title="LDAP / Active Directory", frozen=True)

    urls: list[str] = Field(
        min_length=1,
        max_length=8,
        description="Servers to try in order: ldap://host[:port] or ldaps://host[:port].",
        examples=[["ldaps://dc1.corp.example.com", "ldaps://dc2.corp.example.com"]],
        json_schema_extra={"x-endpoint": True},
    )
    flavor: Flavor = Field(
        Flavor.openldap, description="openldap or active_directory: sets the defaults below."
    )
    # TLS settings decide who can read the bind password: they name the destination too.
    start_tls: bool = Field(
        False,
        description="Upgrade ldap:// connections with StartTLS.",
        json_schema_extra={"x-endpoint": True},
    )
    tls_verify: Literal["required", "none"] = Field(
        "required",
        description="Verify the server certificate and host name ('none' is insecure).",
        json_schema_extra={"x-endpoint": True},
    )
    ca_pem: str | None = Field(
        None,
        description="PEM certificate(s) of the CA to trust instead of the system store.",
        json_schema_extra={"x-endpoint": True},
    )
    bind_dn: str | None = Field(None, description="DN (or AD user@domain) to bind as.")
    password: SecretStr | None = _secret()
    base_dn: str = Field(min_length=1, description="Where users and groups are searched.")
    user_base_dn: str | None = Field(None, description="Users' subtree (default: base_dn).")
    group_base_dn: str | None = Field(None, description="Groups' subtree (default: base_dn).")
    user_object_classes: list[str] | None = Field(None, description="Object classes of users.")
    user_filter: str | None = Field(None, description="Extra LDAP filter ANDed for users.")
    group_object_classes: list[str] | None = Field(None, description="Object classes of groups.")
    group_filter: str | None = Field(None, description="Extra LDAP filter ANDed for groups.")
    user_attributes: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Attributes read for users ('*' = all user attributes).",
    )
    group_attributes: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Attributes read for groups ('*' = all user attributes).",
    )
    member_attributes: list[str] | None = Field(
        None, description="Group attributes holding member DNs."
    )
    scalar_attributes: list[str] | None = Field(
        None, description="Multi-valued attributes to read as their first value only."
    )
    id_attribute: str | None = Field(None, description="Stable unique id of an entry.")
    manager_attribute: str = Field(
        "manager",
        min_length=1,
        max_length=100,
        description="User attribute holding the DN of the person's manager; the users stream "
        "offers it resolved to the manager's id as `manager_id` (map it to `manager`).",
    )
    cursor_attribute: str | None = Field(
        None, description="Generalized-time attribute for incremental reads."
    )
    cursor_lookback_seconds: int = Field(
        300,
        ge=0,
        le=86_400,
        description="Changes this recent are read again (de-duplicated) by the next run.",
    )
    server_side_sort: Literal["auto", "never"] = Field(
        "auto",
        description="Ask the server to sort by the cursor (resumable page checkpoints).",
    )
    page_size: int = Field(500, ge=1, le=5000, description="Entries per page and per batch.")
    timeout_seconds: float = Field(30.0, gt=0, le=600, description="Per-operation time limit.")
    connect_timeout_seconds: float = Field(5.0, gt=0, le=120, description="TCP/TLS connect.")
    backend: Literal["auto", "ldap3", "python-ldap"] = Field(
        "auto", description="Client library: python-ldap when installed, else ldap3."
    )

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
                raise ValueError(f"{url!r} is not an ldap:// or ldaps:// URL with a host name")
            if parts.path not in ("", "/") or parts.query or parts.username:
                raise ValueError(f"{url!r}: give only scheme, host and port (no DN, no query)")
            _ = parts.port  # raises ValueError for a bad port
        return urls

    @field_validator("user_filter", "group_filter")
    @classmethod
    def _check_filter(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not well_formed(value):
            raise ValueError(f"{value!r} is not a parenthesized LDAP filter, e.g. (department=IT)")
        return value

    @model_validator(mode="after")
    def _check_bind(self) -> LdapSettings:
        # a DN with an empty password is an "unauthenticated bind": AD accepts it as anonymous
        if self.bind_dn and not (self.password and self.password.get_secret_value()):
            raise ValueError("bind_dn is set without a password: give the password")
        if self.password is not None and not self.bind_dn:
            raise ValueError("a password is set without bind_dn: give the DN to bind as")
        if self.start_tls and any(url.startswith("ldaps://") for url in self.urls):
            raise ValueError("start_tls applies to ldap:// URLs; ldaps:// is already TLS")
        return self

    def default(self, name: str) -> Any:
        """A field's value, or the flavor's default when unset."""
        value = getattr(self, name)
        return DEFAULTS[self.flavor][name] if value is None else value

    @property
    def ldaps_only(self) -> bool:
        """Whether every URL is ldaps:// (TLS from the first byte)."""
        return all(url.startswith("ldaps://") for url in self.urls)

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted."""
        return self.start_tls or self.ldaps_only


def parse(config: Mapping[str, Any]) -> LdapSettings:
    """Validate a configuration, or raise a `config` ConnectorError naming each bad field."""
    try:
        return LdapSettings.model_validate(dict(config))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise ConnectorError(
            CheckFailure.config, f"invalid LDAP configuration: {problems}"
        ) from None


def spec() -> dict[str, Any]:
    """The JSON Schema of the configuration."""
    return LdapSettings.model_json_schema()
