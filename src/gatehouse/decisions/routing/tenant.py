"""A tenant's stored configuration turned into what routing runs on (secrets opened)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.decisions.remote.spec import BreakerSpec, EndpointSpec, HealthCheckSpec, RemoteSpec
from gatehouse.decisions.routing.models import DecisionConfig, context
from gatehouse.decisions.routing.schemas import DEFAULT_DECISION, DecisionConfigIn
from gatehouse.secrets.keyring import KeyRing
from gatehouse.secrets.service import open_value


@dataclass(frozen=True, slots=True)
class TenantRouting:
    """How one tenant decides: mode, remote endpoints (when remote) and fallback."""

    tenant_id: str
    version: int
    mode: str
    fallback_mode: str
    remote: RemoteSpec | None
    deny_results: dict[str, Any] = field(default_factory=dict)
    basic_grants: dict[str, list[str]] = field(default_factory=dict)
    default_decision: str = DEFAULT_DECISION


async def routing_of(session: AsyncSession, row: DecisionConfig, ring: KeyRing) -> TenantRouting:
    """The runtime form of a stored configuration."""
    body = DecisionConfigIn.model_validate(row.settings)
    remote = None
    if body.mode == "remote":
        endpoints = []
        for e in body.opa_endpoints:
            sealed = row.credentials.get(e.url, {})
            opened = {
                name: await open_value(session, ring, token, context(row.tenant_id, e.url, name))
                for name, token in sealed.items()
            }
            endpoints.append(
                EndpointSpec(
                    url=e.url,
                    tls_verify=e.tls_verify,
                    ca_bundle=e.ca_bundle,
                    client_cert=e.client_cert,
                    client_key=opened.get("client_key"),
                    # A token stored before tokens needed https (or the flag) is not sent in clear.
                    bearer_token=opened.get("bearer_token")
                    if e.url.startswith("https://") or e.allow_insecure_token
                    else None,
                )
            )
        hc, cb = body.health_check, body.circuit_breaker
        remote = RemoteSpec(
            endpoints=tuple(endpoints),
            policy_package=body.policy_package,
            load_balancing=body.load_balancing,
            health_check=HealthCheckSpec(**hc.model_dump()),
            circuit_breaker=BreakerSpec(**cb.model_dump()),
            request_timeout=body.request_timeout,
            max_connections=body.max_connections,
            http2=body.http2,
        )
    return TenantRouting(
        tenant_id=row.tenant_id,
        version=row.version,
        mode=body.mode,
        fallback_mode=body.fallback_mode,
        remote=remote,
        deny_results=body.deny_results,
        basic_grants=body.basic_grants,
        default_decision=body.default_decision,
    )
