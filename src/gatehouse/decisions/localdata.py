"""Tenant-local data written through `/v1/data`: kept beside (never over) the store's document."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.db.upsert import insert_ignore
from gatehouse.decisions import opa
from gatehouse.decisions.models import LocalData
from gatehouse.decisions.patch import apply_patch
from gatehouse.decisions.schemas import DEFAULT_ENTRYPOINT, DecisionSettings
from gatehouse.distribution.service import settings_of
from gatehouse.events.service import emit
from gatehouse.kit.partial import named_only


async def row(session: AsyncSession, tenant: str, *, lock: bool = False) -> LocalData | None:
    """The tenant's local data row (locked for the transaction when `lock`)."""
    stmt = select(LocalData).where(LocalData.tenant_id == tenant)
    if lock:
        await insert_ignore(session, LocalData, tenant_id=tenant, document={}, version=0)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt.execution_options(**{TENANT: tenant}))).one_or_none()


async def document(session: AsyncSession, tenant: str) -> tuple[dict[str, Any], int]:
    """The tenant's local document and its version."""
    found = await row(session, tenant)
    return (dict(found.document or {}), found.version) if found else ({}, 0)


async def refuse_store_root(session: AsyncSession, tenant: str, parts: list[str]) -> None:
    """400 for a path at, above or below the store's document root (the store owns it)."""
    root = (await settings_of(session, tenant)).root.split("/")
    if not parts:
        raise opa.error(
            400, "invalid_parameter", "writing the root document is not allowed: name a path"
        )
    n = min(len(parts), len(root))
    if parts[:n] == root[:n]:
        raise opa.error(
            400,
            "invalid_parameter",
            f"path /{'/'.join(parts)} overlaps /{'/'.join(root)}, the document Gatehouse's store "
            "owns: write tenant-local data elsewhere",
        )


def _parent(doc: dict[str, Any], parts: list[str], create: bool) -> dict[str, Any] | None:
    node: Any = doc
    for part in parts[:-1]:
        if not isinstance(node, dict):
            return None
        if part not in node:
            if not create:
                return None
            node[part] = {}
        node = node[part]
    return node if isinstance(node, dict) else None


def _not_found(parts: list[str]) -> Exception:
    return opa.error(404, "resource_not_found", f"storage_not_found_error: /{'/'.join(parts)}")


async def _commit(
    session: AsyncSession, actor: Actor, found: LocalData, doc: dict[str, Any], action: str, at: str
) -> None:
    found.document, found.version = doc, found.version + 1
    found.updated_by = actor.actor[:100]
    emit(session, actor.tenant_id, "decision_data.updated", "decision_data", at[:64], {"path": at})
    await audit.record(
        session, actor, action, "decision_data", at, after={"version": found.version}
    )


async def put(
    session: AsyncSession, actor: Actor, parts: list[str], value: Any, if_none_match: bool
) -> bool:
    """Set the value at the path (parents created); False when `If-None-Match: *` found one."""
    await refuse_store_root(session, actor.tenant_id, parts)
    found = await row(session, actor.tenant_id, lock=True)
    assert found is not None
    doc = copy.deepcopy(found.document or {})
    parent = _parent(doc, parts, create=True)
    if parent is None:
        raise opa.error(400, "invalid_parameter", "a parent of the path is not an object")
    if if_none_match and parts[-1] in parent:
        return False
    parent[parts[-1]] = value
    await _commit(session, actor, found, doc, "decision_data.put", "/" + "/".join(parts))
    return True


async def _change(
    session: AsyncSession, actor: Actor, parts: list[str], action: str, change: Any
) -> None:
    """Replace (`change(old)`) or, when `change` is None, remove the existing value at the path."""
    await refuse_store_root(session, actor.tenant_id, parts)
    found = await row(session, actor.tenant_id, lock=True)
    assert found is not None
    doc = copy.deepcopy(found.document or {})
    parent = _parent(doc, parts, create=False)
    if parent is None or parts[-1] not in parent:
        raise _not_found(parts)
    if change is None:
        del parent[parts[-1]]
    else:
        parent[parts[-1]] = change(parent[parts[-1]])
    await _commit(session, actor, found, doc, action, "/" + "/".join(parts))


async def patch(session: AsyncSession, actor: Actor, parts: list[str], ops: Any) -> None:
    """Apply a JSON Patch (add, remove, replace, as OPA does) below the path."""
    await _change(session, actor, parts, "decision_data.patch", lambda old: apply_patch(old, ops))


async def delete(session: AsyncSession, actor: Actor, parts: list[str]) -> None:
    """Remove the value at the path (404 when there is none)."""
    await _change(session, actor, parts, "decision_data.delete", None)


async def set_settings(
    session: AsyncSession, actor: Actor, given: DecisionSettings
) -> DecisionSettings:
    """Change the settings `given` names (enrichment, the entrypoint rule); audited."""
    found = await row(session, actor.tenant_id, lock=True)
    assert found is not None
    current = DecisionSettings(
        enrich=found.enrich is not False, entrypoint=found.entrypoint or DEFAULT_ENTRYPOINT
    )
    settings = named_only(current, given)
    before, after = current.model_dump(), settings.model_dump()
    found.enrich, found.entrypoint = settings.enrich, settings.entrypoint
    await audit.record(
        session, actor, "decision_settings.put", "decision_settings", "", before=before, after=after
    )
    return settings
