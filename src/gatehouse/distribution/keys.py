"""A tenant's bundle signing keys: created, rotated, retired; private halves sealed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.tenancy import TENANT
from gatehouse.distribution import signing
from gatehouse.distribution.models import SigningKey, key_context
from gatehouse.distribution.schemas import KeyAlgorithm, SigningKeyCreate
from gatehouse.distribution.service import active_key
from gatehouse.kit.ids import new_id
from gatehouse.kit.problems import Problem
from gatehouse.secrets.keyring import KeyRing
from gatehouse.secrets.service import hold_active_key, open_value


async def listing(session: AsyncSession, tenant: str) -> Sequence[SigningKey]:
    """The tenant's keys, newest first."""
    stmt = (
        select(SigningKey)
        .where(SigningKey.tenant_id == tenant)
        .order_by(SigningKey.created_at.desc(), SigningKey.id)
    )
    return (await session.execute(stmt.execution_options(**{TENANT: tenant}))).scalars().all()


async def find(session: AsyncSession, tenant: str, key_id: str) -> SigningKey:
    """One key of the tenant, or 404."""
    for key in await listing(session, tenant):
        if key.id == key_id:
            return key
    raise Problem(404, f"No signing key with id {key_id!r} in this tenant.")


async def create(
    session: AsyncSession, ring: KeyRing, actor: Actor, body: SigningKeyCreate
) -> SigningKey:
    """Generate a key pair; it signs from now on and the previously active key retires."""
    tenant = actor.tenant_id
    key_id = body.key_id or f"gatehouse-{tenant}-{new_id()[:8]}"
    if any(k.id == key_id for k in await listing(session, tenant)):
        raise Problem(409, f"A signing key with id {key_id!r} already exists.")
    private = signing.generate(body.algorithm.value)
    await hold_active_key(session, ring)
    previous = await active_key(session, tenant)
    if previous is not None:
        previous.status, previous.retired_at = "retired", datetime.now(UTC)
    row = SigningKey(
        tenant_id=tenant,
        id=key_id,
        algorithm=body.algorithm.value,
        scope=body.scope,
        public_pem=signing.public_pem(private),
        private_sealed=ring.encrypt(signing.private_pem(private), key_context(tenant, key_id)),
        status="active",
        created_by=actor.actor,
    )
    session.add(row)
    await session.flush()
    after = {"algorithm": row.algorithm, "scope": row.scope, "retired": previous and previous.id}
    await audit.record(session, actor, "signing_key.create", "signing_key", key_id, after=after)
    return row


async def rotate(session: AsyncSession, ring: KeyRing, actor: Actor) -> SigningKey:
    """A new key with the active key's algorithm and scope, replacing it."""
    current = await active_key(session, actor.tenant_id)
    if current is None:
        raise Problem(409, "There is no active signing key to rotate; create one first.")
    body = SigningKeyCreate(algorithm=KeyAlgorithm(current.algorithm), scope=current.scope)
    return await create(session, ring, actor, body)


async def retire(session: AsyncSession, actor: Actor, key_id: str) -> None:
    """Destroy a retired key (OPA instances should no longer trust it); the active one stays."""
    key = await find(session, actor.tenant_id, key_id)
    if key.status == "active":
        raise Problem(409, "The active key cannot be deleted; rotate first.")
    await session.delete(key)
    await audit.record(session, actor, "signing_key.delete", "signing_key", key_id)


async def signer_for(
    session: AsyncSession, ring: KeyRing, tenant: str, key: SigningKey
) -> signing.Signer:
    """The private key opened for signing."""
    pem = await open_value(session, ring, key.private_sealed, key_context(tenant, key.id))
    return signing.Signer(key.id, key.algorithm, key.scope, signing.load_private(pem))
