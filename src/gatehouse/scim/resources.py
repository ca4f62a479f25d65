"""What every SCIM resource type offers the routes: one protocol, implemented per type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from scim2_models import Resource
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.scim.listing import ListQuery

SOURCE = "scim"


@dataclass(frozen=True)
class Found:
    """A resource as the store holds it now, and its version (the ETag)."""

    resource: Resource[Any]
    version: int

    @property
    def location(self) -> str:
        """The resource's URL (meta.location)."""
        meta = self.resource.meta
        return str(meta.location) if meta is not None and meta.location else ""


class ResourceKind(Protocol):
    """The operations behind /Users or /Groups; writes go through the identity service."""

    name: str  # the SCIM resource type, "User"
    endpoint: str  # "/Users"
    record: str  # the store's record type, for audit entries
    relation: str  # the multi-valued attribute that costs a query ("groups", "members")

    @property
    def model(self) -> type[Resource[Any]]:
        """The scim2-models class of the resource type."""
        ...

    async def get(
        self, session: AsyncSession, tenant_id: str, ident: str, base: str, expand: bool
    ) -> Found:
        """One resource, or 404."""
        ...

    async def search(
        self, session: AsyncSession, tenant_id: str, query: ListQuery, base: str, expand: bool
    ) -> tuple[int, list[Resource[Any]]]:
        """The total number of matches and one page of them."""
        ...

    async def create(
        self, session: AsyncSession, actor: Actor, payload: dict[str, Any], base: str
    ) -> Found:
        """Create from a SCIM document."""
        ...

    async def replace(
        self,
        session: AsyncSession,
        actor: Actor,
        ident: str,
        payload: dict[str, Any],
        if_match: str | None,
        base: str,
    ) -> Found:
        """Replace with a SCIM document (PUT)."""
        ...

    async def patch(
        self,
        session: AsyncSession,
        actor: Actor,
        ident: str,
        payload: dict[str, Any],
        if_match: str | None,
        base: str,
    ) -> Found:
        """Apply a PatchOp."""
        ...

    async def delete(
        self, session: AsyncSession, actor: Actor, ident: str, if_match: str | None
    ) -> None:
        """Delete (the store keeps history)."""
        ...
