"""A tenant's group hierarchy in memory: names, parents, and transitive closures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.db.tenancy import TENANT
from gatehouse.identity.models import Group, Membership


@dataclass
class GroupGraph:
    """Live groups by id, which groups each one sits in, and which sit in it."""

    names: dict[str, str] = field(default_factory=dict)
    parents: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    children: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _up: dict[str, frozenset[str]] = field(default_factory=dict)

    def ancestors(self, group_id: str) -> frozenset[str]:
        """The group and every group above it (nesting has no cycles; a visited set guards)."""
        known = self._up.get(group_id)
        if known is not None:
            return known
        found, stack = {group_id}, [group_id]
        while stack:
            for parent in self.parents.get(stack.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        result = frozenset(found)
        self._up[group_id] = result
        return result

    def descendants(self, group_ids: Iterable[str]) -> set[str]:
        """The groups and every group below them."""
        found = set(group_ids)
        stack = list(found)
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def group_names(self, direct: Iterable[str]) -> list[str]:
        """Names of every live group a member of `direct` groups is in, transitively."""
        ids: set[str] = set()
        for gid in direct:
            ids |= self.ancestors(gid)
        return [self.names[g] for g in ids if g in self.names]


async def load_graph(session: AsyncSession, tenant: str) -> GroupGraph:
    """The tenant's live groups and group-in-group memberships."""
    scoped = {TENANT: tenant}
    graph = GroupGraph()
    rows = await session.execute(
        select(Group.id, Group.display_name)
        .where(Group.tenant_id == tenant, Group.deleted_at.is_(None))
        .execution_options(**scoped)
    )
    graph.names = dict(rows.all())
    nested = await session.execute(
        select(Membership.group_id, Membership.member_id)
        .where(Membership.tenant_id == tenant, Membership.member_type == "group")
        .execution_options(**scoped)
    )
    for parent, child in nested:
        graph.parents[child].add(parent)
        graph.children[parent].add(child)
    return graph
