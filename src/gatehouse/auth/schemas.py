"""Request and response bodies of the token API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gatehouse.auth.scopes import is_known


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = [scope for scope in scopes if not is_known(scope)]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; GET /v1/integration/tokens/scopes lists them")
    return sorted(set(scopes))


class TokenCreate(BaseModel):
    """A new token's name, scopes and lifetime."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=1000)
    scopes: list[str] = Field(min_length=1, max_length=50)
    expires_in_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Days until expiry; default from settings. Never past the minting token's.",
    )
    rate_limit_per_minute: int | None = Field(
        None,
        ge=1,
        description="Per-token budget, at most the tenant tier's and the minting token's own "
        "(inherited from it when absent).",
    )

    _scopes = field_validator("scopes")(_check_scopes)


class TokenUpdate(BaseModel):
    """Fields of a token that can change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)
    scopes: list[str] | None = Field(None, min_length=1, max_length=50)
    rate_limit_per_minute: int | None = Field(None, ge=1)

    _scopes = field_validator("scopes")(lambda v: None if v is None else _check_scopes(v))


class TokenOut(BaseModel):
    """A token as listed; never includes the secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    name: str
    description: str
    prefix: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rate_limit_per_minute: int | None
    parent_id: str | None = Field(None, description="The token that minted this one, if any.")


class TokenCreated(TokenOut):
    """A token just created: the only response that carries its secret."""

    token: str = Field(description="The secret. Shown once; store it now.")


class ScopeOut(BaseModel):
    """A scope from the catalog."""

    name: str
    description: str
    platform: bool


class UsageOut(BaseModel):
    """One logged request made with a token."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    token_id: str
    method: str
    path: str
    status: int
    latency_ms: float
    request_id: str
    at: datetime


class CurrentTokenOut(BaseModel):
    """The token that made the request, as the server sees it."""

    token_id: str
    tenant_id: str
    scopes: list[str]
    expires_at: datetime | None
    rate_limit_per_minute: int | None
