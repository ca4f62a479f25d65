"""Read, replace, change and remove a tenant's decision configuration; secrets stay sealed."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.repository import TenantRepository
from gatehouse.decisions.routing.models import DecisionConfig, context
from gatehouse.decisions.routing.schemas import (
    SECRET_FIELDS,
    TRUST_FIELDS,
    DecisionConfigIn,
    DecisionConfigOut,
    DecisionConfigPatch,
    EndpointIn,
    EndpointOut,
)
from gatehouse.kit.destinations import changed, must_resend
from gatehouse.kit.problems import Problem
from gatehouse.secrets.keyring import KeyRing
from gatehouse.secrets.service import hold_active_key

TARGET = "decision_config"


class ConfigRepository(TenantRepository[DecisionConfig]):
    """One tenant's decision configuration row."""

    model = DecisionConfig


async def find(session: AsyncSession, tenant_id: str) -> DecisionConfig | None:
    """The stored configuration, or None (the tenant decides with the embedded engine)."""
    stmt = ConfigRepository(session, tenant_id).select()
    return (await session.execute(stmt)).scalar_one_or_none()


def settings_of(body: DecisionConfigIn) -> dict[str, Any]:
    """The stored, secret-free form of a configuration."""
    doc = body.model_dump(mode="json")
    for endpoint in doc["opa_endpoints"]:
        for name in SECRET_FIELDS:
            endpoint.pop(name, None)
    return doc


def sealed_credentials(
    ring: KeyRing,
    tenant_id: str,
    body: DecisionConfigIn,
    stored: dict[str, dict[str, str]],
    before: dict[str, dict[str, Any]],
) -> dict[str, dict[str, str]]:
    """Each endpoint's secrets: sent ones sealed, omitted ones kept by URL, null ones dropped;
    422 when kept ones would follow a change of TLS trust, or a token would go over http."""
    result: dict[str, dict[str, str]] = {}
    errors: list[dict[str, str]] = []
    for index, endpoint in enumerate(body.opa_endpoints):
        fields = dict(stored.get(endpoint.url, {}))
        resent = {name for name in SECRET_FIELDS if name in endpoint.model_fields_set}
        prior = before.get(endpoint.url)
        moved = changed(prior, endpoint.model_dump(mode="json"), TRUST_FIELDS) if prior else []
        where = f"body.opa_endpoints.{index}"
        errors += must_resend(moved, set(fields) - resent, where, "null")
        for name in resent:
            value = getattr(endpoint, name)
            if value is None:
                fields.pop(name, None)
            else:
                sealed = ring.encrypt(
                    value.get_secret_value(), context(tenant_id, endpoint.url, name)
                )
                fields[name] = sealed
        check_pair(endpoint, fields)
        errors += plain_token(endpoint, fields, where)
        if fields:
            result[endpoint.url] = fields
    if errors:
        raise Problem(422, errors[0]["message"] + ".", errors=errors)
    return result


def plain_token(endpoint: EndpointIn, fields: dict[str, str], where: str) -> list[dict[str, str]]:
    """The error for a bearer token that would travel over plain http, unless allowed."""
    if "bearer_token" not in fields or endpoint.url.startswith("https://"):
        return []
    if endpoint.allow_insecure_token:
        return []
    message = (
        f"{endpoint.url}: a bearer token is sent only over https (over http anyone on the "
        "path reads it); use an https:// URL, or set allow_insecure_token: true"
    )
    return [{"field": f"{where}.bearer_token", "message": message, "type": "insecure_token"}]


def check_pair(endpoint: EndpointIn, fields: dict[str, str]) -> None:
    """A client certificate needs its key, and a key its certificate."""
    if (endpoint.client_cert is None) != ("client_key" not in fields):
        raise Problem(
            422,
            f"{endpoint.url}: client_cert and client_key go together (mTLS needs both).",
            errors=[{"field": "body.opa_endpoints", "message": "client_cert without client_key"}],
        )


def invalid(exc: ValidationError) -> Problem:
    """A merged configuration that does not validate, as the API's 422."""
    errors = [
        {
            "field": ".".join(["body", *(str(p) for p in e["loc"])]),
            "message": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors()
    ]
    return Problem(422, "The request did not validate; see errors.", errors=errors)


def current(row: DecisionConfig | None) -> DecisionConfigIn:
    """The stored configuration as a body (defaults when there is none)."""
    return DecisionConfigIn.model_validate(row.settings) if row else DecisionConfigIn()


def merged(row: DecisionConfig | None, patch: DecisionConfigPatch) -> DecisionConfigIn:
    """The stored configuration with a patch applied, validated as a whole."""
    doc = current(row).model_dump(mode="json")
    for name, value in patch.model_dump(exclude_unset=True).items():
        if (
            isinstance(value, dict)
            and isinstance(doc.get(name), dict)
            and name
            in (
                "health_check",
                "circuit_breaker",
            )
        ):
            doc[name] = {**doc[name], **value}
        else:
            doc[name] = value
    try:
        return DecisionConfigIn.model_validate(doc)
    except ValidationError as exc:
        raise invalid(exc) from None


async def put(
    session: AsyncSession, ring: KeyRing, actor: Actor, tenant_id: str, body: DecisionConfigIn
) -> tuple[DecisionConfig, bool]:
    """Store a tenant's configuration whole; returns it and whether it was created."""
    row = await find(session, tenant_id)
    created = row is None
    before = None if row is None else row.settings
    await hold_active_key(session, ring)
    stored = row.credentials if row else {}
    endpoints = row.settings.get("opa_endpoints", []) if row else []
    credentials = sealed_credentials(
        ring, tenant_id, body, stored, {e["url"]: e for e in endpoints}
    )
    if row is None:
        row = ConfigRepository(session, tenant_id).add(DecisionConfig(version=0))
    row.mode, row.settings, row.credentials = body.mode, settings_of(body), credentials
    row.version = (row.version or 0) + 1
    await session.flush()
    action = "decision_config.create" if created else "decision_config.update"
    await audit.record(session, actor, action, TARGET, tenant_id, before=before, after=row.settings)
    return row, created


async def remove(session: AsyncSession, actor: Actor, tenant_id: str) -> None:
    """Drop a tenant's configuration (it decides with the embedded engine again), or 404."""
    row = await find(session, tenant_id)
    if row is None:
        raise Problem(404, f"Tenant {tenant_id!r} has no decision configuration.")
    before = row.settings
    await session.delete(row)
    await audit.record(session, actor, "decision_config.delete", TARGET, tenant_id, before=before)


def view(tenant_id: str, row: DecisionConfig | None) -> DecisionConfigOut:
    """The API's view: settings as stored, secrets only as `*_set` flags."""
    body = current(row)
    credentials = row.credentials if row else {}
    endpoints = [
        EndpointOut(
            url=e.url,
            tls_verify=e.tls_verify,
            ca_bundle=e.ca_bundle,
            client_cert=e.client_cert,
            client_key_set="client_key" in credentials.get(e.url, {}),
            bearer_token_set="bearer_token" in credentials.get(e.url, {}),
            allow_insecure_token=e.allow_insecure_token,
        )
        for e in body.opa_endpoints
    ]
    doc = body.model_dump(exclude={"opa_endpoints"})
    return DecisionConfigOut(
        tenant_id=tenant_id,
        opa_endpoints=endpoints,
        version=row.version if row else 0,
        updated_at=row.updated_at if row else None,
        **doc,
    )
