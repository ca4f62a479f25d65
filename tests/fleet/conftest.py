"""OPA-shaped payloads and helpers for the fleet tests."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from gatehouse.audit.models import AuditEntry
from gatehouse.db.tenancy import TENANT
from tests.conftest import Harness

GO_ZERO = "0001-01-01T00:00:00Z"


def event(n: int, **fields: Any) -> dict[str, Any]:
    """A decision event as OPA's decision-log plugin uploads it (EventV1)."""
    doc: dict[str, Any] = {
        "labels": {"id": "opa-1", "version": "1.4.2", "app": "orders"},
        "decision_id": f"d-{n}",
        "bundles": {"gatehouse": {"revision": "7-abc"}},
        "path": "authz/allow",
        "input": {"method": "GET", "path": ["orders", str(n)], "user": {"name": "ada"}},
        "result": True,
        "requested_by": "127.0.0.1:5555",
        "timestamp": f"2026-01-02T03:{n // 60 % 60:02d}:{n % 60:02d}.123456789Z",
        "metrics": {"timer_rego_query_eval_ns": 12345, "timer_server_handler_ns": 2_500_000},
        "req_id": 3,
    }
    doc.update(fields)
    return doc


def gz(doc: Any) -> bytes:
    """A JSON document gzip-compressed, as OPA's uploader sends it."""
    return gzip.compress(orjson.dumps(doc))


async def post_logs(
    h: Harness,
    token: str,
    body: Any,
    *,
    raw: bytes | None = None,
    encoding: str | None = "gzip",
    path: str = "/opa/logs",
) -> httpx.Response:
    """POST a decision-log upload (gzip unless told otherwise)."""
    content = raw if raw is not None else (gz(body) if encoding == "gzip" else orjson.dumps(body))
    headers = {**h.auth(token), "Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    return await h.client.post(path, content=content, headers=headers)


def status_report(
    instance: str = "opa-1", revision: str = "7-abc", **bundle: Any
) -> dict[str, Any]:
    """A status update as OPA's status plugin posts it (UpdateRequestV1)."""
    state: dict[str, Any] = {
        "name": "gatehouse",
        "active_revision": revision,
        "last_request": "2026-01-02T03:04:05.123456789Z",
        "last_successful_request": "2026-01-02T03:04:05.123456789Z",
        "last_successful_download": "2026-01-02T03:04:05.1Z",
        "last_successful_activation": "2026-01-02T03:04:05.2Z",
        "metrics": {"timer_rego_data_parse_ns": 12345},
        "size": 1048576,
        "type": "snapshot",
    }
    state.update(bundle)
    return {
        "labels": {"id": instance, "version": "1.4.2", "app": "orders"},
        "bundles": {"gatehouse": state},
        "plugins": {"bundle": {"state": "OK"}, "status": {"state": "OK"}},
        "metrics": {"prometheus": {"go_gc_cycles_total": {"name": "go_gc_cycles_total"}}},
    }


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of a refused request."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


async def audit_of(h: Harness, tenant: str = "acme") -> list[AuditEntry]:
    """The tenant's audit entries, oldest first."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(AuditEntry).where(AuditEntry.tenant_id == tenant).order_by(AuditEntry.seq)
        return list((await s.execute(stmt.execution_options(**{TENANT: tenant}))).scalars())
