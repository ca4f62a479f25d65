"""Which event types an endpoint takes: filters of names, group wildcards and `*`."""

from __future__ import annotations

from gatehouse.events.catalog import CATALOG, GROUPS, NAMES
from gatehouse.kit.problems import Problem

__all__ = ["CATALOG", "GROUPS", "NAMES", "known", "matches", "validated"]


def matches(filters: list[str], event_type: str) -> bool:
    """Whether an endpoint's filter (empty: everything) takes an event type."""
    if not filters:
        return True
    group = event_type.split(".", 1)[0]
    return any(f in ("*", event_type, f"{group}.*") for f in filters)


def validated(filters: list[str]) -> list[str]:
    """The filter without duplicates, or 422 naming what the catalog does not hold."""
    unknown = [f for f in filters if not known(f)]
    if unknown:
        raise Problem(
            422,
            f"Unknown event types: {', '.join(unknown)}; GET "
            "/v1/integration/webhooks/event-types lists them (wildcards: `identity.*`, `*`).",
        )
    return sorted(set(filters))


def known(pattern: str) -> bool:
    """Whether a filter entry names a catalog type, a group wildcard or everything."""
    if pattern == "*" or pattern in NAMES:
        return True
    group, _, rest = pattern.partition(".")
    return rest == "*" and group in GROUPS
