"""An enterprise `manager.value` must name a live user of the same tenant."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.identity.provisioning import Statement
from gatehouse.identity.service import IdentityRepository
from gatehouse.kit.problems import Problem
from gatehouse.scim.schema import ENTERPRISE


async def check_manager(
    session: AsyncSession, tenant_id: str, stated: Statement, current: str | None = None
) -> None:
    """400 invalidValue when a statement sets a manager that is not a live user of the tenant.

    A value equal to `current` (what the store holds) is not checked again, so a PUT repeating
    a manager deleted since does not fail. Another tenant's user reads as unknown.
    """
    manager = stated.get("manager_id")
    if manager is None or manager == current:
        return
    found = await IdentityRepository(session, tenant_id).get(manager)
    if found is None or found.status == "deleted":
        raise Problem(
            400,
            f"{ENTERPRISE}:manager.value {manager!r} is not a user of this tenant.",
            scim_type="invalidValue",
        )
