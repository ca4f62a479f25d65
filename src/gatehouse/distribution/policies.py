"""Where a tenant's Rego policies come from for its bundles.

Gatehouse has no policy store yet (the governance issue adds one). Until then bundles carry
data only; a policy store plugs in here by returning the tenant's `*.rego` files.
"""

from __future__ import annotations

from typing import Protocol


class PolicySource(Protocol):
    """The `*.rego` files of a tenant's bundle, by path inside the bundle."""

    async def policies(self, tenant: str) -> dict[str, bytes]:
        """Path (e.g. `authz/main.rego`) → module source."""
        ...


class NoPolicies:
    """The source while Gatehouse has no policy store: bundles carry data only."""

    async def policies(self, tenant: str) -> dict[str, bytes]:
        """No modules."""
        return {}
