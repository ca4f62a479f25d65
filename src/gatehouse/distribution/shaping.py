"""Which fields leave Gatehouse in a data document: sensitivity levels and the tenant's choices."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gatehouse.connectors.protocol import Sensitivity
from gatehouse.connectors.sensitivity import suggest
from gatehouse.distribution.schemas import DocumentSettings

ORDER = {
    Sensitivity.public: 0,
    Sensitivity.internal: 1,
    Sensitivity.confidential: 2,
    Sensitivity.restricted: 3,
}
# The store's own fields; anything else is judged by its name (or a connection's mapping).
CORE = {
    "id": Sensitivity.public,
    "userName": Sensitivity.internal,
    "externalId": Sensitivity.internal,
    "displayName": Sensitivity.public,
    "givenName": Sensitivity.internal,
    "familyName": Sensitivity.internal,
    "email": Sensitivity.confidential,
    "title": Sensitivity.public,
    "employeeNumber": Sensitivity.internal,
    "department": Sensitivity.internal,
    "organization": Sensitivity.internal,
    "costCenter": Sensitivity.internal,
    "manager": Sensitivity.confidential,
    "active": Sensitivity.internal,
    "status": Sensitivity.internal,
    "riskScore": Sensitivity.internal,
    "groups": Sensitivity.internal,
    "roles": Sensitivity.internal,
    "parents": Sensitivity.internal,
    "type": Sensitivity.public,
    "key": Sensitivity.public,
}
KIND_OF = {"users": "users", "groups": "groups", "resources": "resources"}


def stricter(a: Sensitivity, b: Sensitivity) -> Sensitivity:
    """The stricter of two levels."""
    return a if ORDER[a] >= ORDER[b] else b


def connection_levels(connections: Iterable[Mapping[str, Any]]) -> dict[str, Sensitivity]:
    """The strictest level each field name has in any connection (discovered, then mapped)."""
    levels: dict[str, Sensitivity] = {}

    def note(name: str, level: Sensitivity) -> None:
        levels[name] = stricter(levels[name], level) if name in levels else level

    for conn in connections:
        for stream in conn.get("discovered") or []:
            for info in stream.get("fields") or []:
                note(info["name"], Sensitivity(info["sensitivity"]))
        for chosen in ((conn.get("mapping") or {}).get("streams") or {}).values():
            for name, level in (chosen.get("sensitivity") or {}).items():
                note(name, Sensitivity(level))
    return levels


@dataclass(frozen=True)
class Shaper:
    """Decides, for a tenant, which fields of which stream go into its document."""

    settings: DocumentSettings
    levels: Mapping[str, Sensitivity]
    # Decisions per (stream, field): a document asks about the same few names a million times.
    _leaves: dict[tuple[str, str], bool] = field(default_factory=dict, compare=False)

    def level(self, stream: str, name: str) -> Sensitivity:
        """The level of a field of a stream."""
        chosen = self.settings.sensitivity
        if f"{stream}.{name}" in chosen:
            return chosen[f"{stream}.{name}"]
        if name in chosen:
            return chosen[name]
        if name in self.levels:
            return self.levels[name]
        return CORE.get(name) or suggest(name)

    def may_leave(self, stream: str, name: str) -> bool:
        """Whether a field leaves: public and internal do; the rest only when allowed by name."""
        known = self._leaves.get((stream, name))
        if known is None:
            known = self._leaves[(stream, name)] = self._decide(stream, name)
        return known

    def _decide(self, stream: str, name: str) -> bool:
        if name == "id":
            return True
        level = self.level(stream, name)
        if ORDER[level] <= ORDER[Sensitivity.internal]:
            return True
        allowed = self.settings.allow
        return name in allowed or f"{stream}.{name}" in allowed

    def shape(self, stream: str, value: dict[str, Any]) -> dict[str, Any]:
        """The value with only the fields that leave (and are included), nulls dropped."""
        wanted = self.settings.fields.get(stream)  # type: ignore[call-overload]
        keep = set(wanted) | {"id"} if wanted else None
        return {
            k: v
            for k, v in value.items()
            if v is not None and (keep is None or k in keep) and self.may_leave(stream, k)
        }

    def digest(self) -> str:
        """A digest of everything that decides the document's shape."""
        doc = {
            "settings": self.settings.model_dump(mode="json"),
            "levels": {k: v.value for k, v in sorted(self.levels.items())},
        }
        return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
