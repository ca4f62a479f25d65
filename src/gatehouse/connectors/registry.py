"""Connector types by name, from the `gatehouse.connectors` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

import structlog

from gatehouse.connectors.protocol import Connector

ENTRY_POINTS = "gatehouse.connectors"
log = structlog.get_logger("gatehouse.connectors")


class UnknownConnector(LookupError):
    """No connector is registered under that name."""


@cache
def registry() -> dict[str, type[Connector]]:
    """Every installed connector type, by name; a broken plug-in is logged and skipped."""
    found: dict[str, type[Connector]] = {}
    for point in entry_points(group=ENTRY_POINTS):
        try:
            kind = point.load()
        except Exception as exc:  # a third-party package must not stop Gatehouse
            log.warning("connector_load_failed", entry_point=point.name, error=str(exc))
            continue
        found[point.name] = kind
    return found


def connector_type(name: str) -> type[Connector]:
    """The connector class registered as `name`."""
    try:
        return registry()[name]
    except KeyError:
        known = ", ".join(sorted(registry())) or "none"
        raise UnknownConnector(f"no connector named {name!r}; installed: {known}") from None
