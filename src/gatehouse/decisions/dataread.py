"""Which Data API paths read data documents rather than decisions: those need `data:read`.

`decisions:evaluate` asks for the values of rules; the store's document (`data.gatehouse`
unless configured) and tenant-local data are data documents, read only with `data:read`. A path
reads data when it is the root, or at, above or below the store's root or a tenant-local value.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gatehouse.auth.deps import SAFE_METHODS
from gatehouse.auth.principal import Principal
from gatehouse.auth.scopes import grants
from gatehouse.decisions import opa
from gatehouse.kit.problems import Problem
from gatehouse.services import Services

SCOPE = "data:read"
EVALUATE = "decisions:evaluate"


def under_root(parts: list[str], root: tuple[str, ...]) -> bool:
    """Whether the path is at, above or below the store's document root."""
    n = min(len(parts), len(root))
    return parts[:n] == list(root[:n])


def in_local(parts: list[str], document: dict[str, Any]) -> bool:
    """Whether the path is at, above or below a value of the tenant-local document."""
    node: Any = document
    for part in parts:
        if not isinstance(node, dict):
            return True  # below a value
        if part not in node:
            return False
        node = node[part]
    return True  # at a value, or above some


async def refused(svc: Services, request: Request, who: Principal, scope: str, why: str) -> None:
    """Refuse the request for lacking `scope` (audited unless it only reads, as every
    refusal by scope is)."""
    if request.method not in SAFE_METHODS:
        await svc.audit_denied(request, who, scope)
    raise Problem(403, f"This token lacks the scope {scope!r}: {why}.", required_scope=scope)


async def reads_data(svc: Services, tenant: str, path: str) -> bool:
    """Whether `data.<path>` is (or holds, or lies in) a data document."""
    parts = opa.segments(path)
    if not parts:
        return True
    await svc.distribution.current(tenant)
    snap = await svc.distribution.snapshot(tenant)
    return under_root(parts, snap.root) or in_local(parts, await svc.subjects.local(tenant))


async def check(svc: Services, request: Request, who: Principal, path: str) -> None:
    """403 unless the token may ask for `path`: `data:read` for a data document,
    `decisions:evaluate` for anything else (a rule or package)."""
    held = who.scopes
    can_read, can_evaluate = grants(held, SCOPE), grants(held, EVALUATE)
    if can_read and can_evaluate:
        return
    at = "/v1/data/" + "/".join(opa.segments(path))
    if await reads_data(svc, who.tenant_id, path):
        if not can_read:
            why = f"{at} reads a data document (the store's or tenant-local data), not a decision"
            await refused(svc, request, who, SCOPE, why)
    elif not can_evaluate:
        await refused(svc, request, who, EVALUATE, f"{at} evaluates a rule")
