"""Helpers for import tests: post a file, read the store back."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select

from gatehouse.db.tenancy import TENANT
from gatehouse.events.models import Event
from gatehouse.identity.models import Identity
from tests.conftest import Harness

PEOPLE: dict[str, Any] = {
    "kind": "identity",
    "external_id": "id",
    "fields": {
        "user_name": {"from": "login", "steps": ["trim", "lower"]},
        "email": {"from": "email", "steps": ["email"]},
        "display_name": {"from": "name", "steps": ["trim"]},
        "title": "title",
    },
}


async def post_import(
    h: Harness,
    token: str,
    name: str,
    data: bytes,
    mapping: Any,
    **options: Any,
) -> httpx.Response:
    """POST /pip/import as curl -F would: the file, the mapping as a field, options as fields."""
    fields = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in options.items()}
    text = mapping if isinstance(mapping, str) else json.dumps(mapping)
    return await h.client.post(
        "/pip/import",
        headers=h.auth(token),
        files={"file": (name, data, "application/octet-stream")},
        data={"mapping": text, **fields},
    )


async def people(h: Harness, tenant: str = "acme") -> dict[str, Identity]:
    """The tenant's identities by user name."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(Identity).where(Identity.tenant_id == tenant)
        rows = (await s.execute(stmt.execution_options(**{TENANT: tenant}))).scalars().all()
        return {p.user_name: p for p in rows}


async def rows(h: Harness, model: type[Any], tenant: str = "acme") -> int:
    """How many rows a tenant has in a table (of events: changes to store records only)."""
    async with h.svc.db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model).where(model.tenant_id == tenant)
        if model is Event:
            stmt = stmt.where(Event.subject_type.in_(("identity", "group", "resource")))
        return int((await s.execute(stmt.execution_options(**{TENANT: tenant}))).scalar_one())
