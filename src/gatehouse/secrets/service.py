"""Tenant secrets: stored sealed under the key ring, revealed only to code, always audited."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.progress import Progress
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.repository import TenantRepository
from gatehouse.db.tenancy import ALL_TENANTS
from gatehouse.kit.crypto import new_key
from gatehouse.kit.ids import new_id
from gatehouse.kit.problems import Problem
from gatehouse.secrets.keyring import KeyRing
from gatehouse.secrets.models import EncryptionKey, Secret


class SecretRepository(TenantRepository[Secret]):
    """One tenant's secrets."""

    model = Secret


@dataclass(frozen=True)
class SealedValues:
    """Rows of a model that hold values sealed with the key ring (rotation re-seals them)."""

    model: type[Any]
    values: Callable[[Any], dict[str, str]]  # a row's ciphertexts by their sealing context
    store: Callable[[Any, dict[str, str]], None]  # put re-sealed ciphertexts back
    # Drop a row's sealed values for good (its tenant was deleted); None: delete the row.
    destroy: Callable[[Any], None] | None


SEALED: list[SealedValues] = []


def register_sealed(kind: SealedValues) -> None:
    """Have key rotation and pruning cover another model's sealed values."""
    SEALED.append(kind)


def context(tenant_id: str, name: str) -> str:
    """The associated data a secret is sealed with, so it cannot be moved to another row."""
    return f"secret:{tenant_id}:{name}"


async def find(session: AsyncSession, tenant_id: str, name: str) -> Secret | None:
    """A secret by name."""
    repo = SecretRepository(session, tenant_id)
    return (await session.execute(repo.select().where(Secret.name == name))).scalar_one_or_none()


async def put(
    session: AsyncSession, ring: KeyRing, actor: Actor, name: str, value: str, description: str
) -> tuple[Secret, bool]:
    """Create or replace a secret; returns it and whether it was created."""
    tenant = actor.tenant_id
    await hold_active_key(session, ring)
    sealed = ring.encrypt(value, context(tenant, name))
    secret = await find(session, tenant, name)
    created = secret is None
    if secret is None:
        secret = SecretRepository(session, tenant).add(
            Secret(name=name, ciphertext=sealed, description=description, created_by=actor.actor)
        )
    else:
        secret.ciphertext, secret.description = sealed, description
    await session.flush()
    action = "secret.create" if created else "secret.replace"
    await audit.record(session, actor, action, "secret", name, after={"description": description})
    return secret, created


async def hold_active_key(session: AsyncSession, ring: KeyRing) -> None:
    """Follow the stored active key and share-lock it, so it cannot be retired or pruned
    while a ciphertext made with it is still uncommitted."""
    stmt = (
        select(EncryptionKey.id).where(EncryptionKey.status == "active").with_for_update(read=True)
    )
    active = None
    for _ in range(3):  # a rotation committing meanwhile hides the new key from this snapshot
        active = (await session.execute(stmt)).scalar_one_or_none()
        if active is not None:
            break
    if active is None:
        raise RuntimeError("the key ring has no active key")
    if active != ring.active or active not in ring.key_ids:
        await ring.refresh(session)


async def open_value(session: AsyncSession, ring: KeyRing, token: str, ctx: str) -> str:
    """Decrypt, first catching up with the stored ring if the key is newer than ours."""
    if ring.key_of(token) not in ring.key_ids:
        await ring.refresh(session)
    return ring.decrypt(token, ctx)


async def listing(
    session: AsyncSession, tenant_id: str, after: Any, limit: int
) -> Sequence[Secret]:
    """A page of the tenant's secrets (metadata only)."""
    repo = SecretRepository(session, tenant_id)
    return await repo.page(repo.select(), after, limit)


async def remove(session: AsyncSession, actor: Actor, name: str) -> None:
    """Delete a secret, or 404."""
    secret = await find(session, actor.tenant_id, name)
    if secret is None:
        raise Problem(404, f"No secret named {name!r} in this tenant.")
    await session.delete(secret)
    await audit.record(session, actor, "secret.delete", "secret", name)


async def reveal(
    session: AsyncSession, ring: KeyRing, actor: Actor, name: str, purpose: str
) -> str:
    """Decrypt a secret for use by Gatehouse itself; every call is audited."""
    secret = await find(session, actor.tenant_id, name)
    if secret is None:
        raise Problem(404, f"No secret named {name!r} in this tenant.")
    await audit.record(session, actor, "secret.read", "secret", name, after={"purpose": purpose})
    return await open_value(session, ring, secret.ciphertext, context(actor.tenant_id, name))


async def rotate(session: AsyncSession, ring: KeyRing, progress: Progress | None = None) -> int:
    """Add a new active data key and re-seal every sealed value with it; old keys are retired."""
    import gatehouse.db.models  # noqa: F401 (every model module registers its sealed values)

    await ring.refresh(session)
    kid, key = new_id(), new_key()
    await session.execute(
        EncryptionKey.__table__.update().values(status="retired")  # type: ignore[attr-defined]
    )
    session.add(EncryptionKey(id=kid, wrapped=ring.wrap(kid, key), status="active"))
    ring.add(kid, key)
    found = [(kind, row) for kind in SEALED for row in await _rows(session, kind)]
    task = progress.add_task("re-encrypting secrets", total=len(found)) if progress else None
    for kind, row in found:
        fresh = {
            ctx: ring.encrypt(await open_value(session, ring, token, ctx), ctx)
            for ctx, token in kind.values(row).items()
        }
        kind.store(row, fresh)
        if progress is not None and task is not None:
            progress.advance(task)
    await session.flush()
    return len(found)


async def _rows(session: AsyncSession, kind: SealedValues) -> Sequence[Any]:
    stmt = select(kind.model).execution_options(**{ALL_TENANTS: True})
    return (await session.execute(stmt)).scalars().all()


async def prune(session: AsyncSession, ring: KeyRing) -> list[str]:
    """Destroy retired keys that no ciphertext uses any more; returns their ids."""
    import gatehouse.db.models  # noqa: F401 (every model module registers its sealed values)

    await ring.refresh(session)
    used = {
        ring.key_of(token)
        for kind in SEALED
        for row in await _rows(session, kind)
        for token in kind.values(row).values()
    }
    retired = await session.execute(
        select(EncryptionKey.id).where(EncryptionKey.status == "retired")
    )
    doomed = [kid for kid in retired.scalars() if kid not in used]
    if doomed:
        await session.execute(delete(EncryptionKey).where(EncryptionKey.id.in_(doomed)))
        for kid in doomed:
            ring.forget(kid)
    return doomed


async def destroy_tenant(session: AsyncSession, tenant_id: str) -> dict[str, int]:
    """Destroy every value a tenant has sealed (credentials, tokens, keys, secrets); how many
    of each model's values went. The ciphertexts are gone, not just unreachable."""
    import gatehouse.db.models  # noqa: F401 (every model module registers its sealed values)

    counts: dict[str, int] = {}
    for kind in SEALED:
        stmt = select(kind.model).where(kind.model.tenant_id == tenant_id)
        rows = (await session.execute(stmt.execution_options(**{ALL_TENANTS: True}))).scalars()
        gone = 0
        for row in rows.all():
            gone += len(kind.values(row))
            if kind.destroy is None:
                await session.delete(row)
            else:
                kind.destroy(row)
        if gone:
            counts[kind.model.__tablename__] = gone
    await session.flush()
    return counts


def _store_secret(row: Secret, fresh: dict[str, str]) -> None:
    row.ciphertext = fresh[context(row.tenant_id, row.name)]


register_sealed(
    SealedValues(
        Secret,
        lambda row: {context(row.tenant_id, row.name): row.ciphertext},
        _store_secret,
        destroy=None,
    )
)
