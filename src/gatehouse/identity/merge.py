"""Per-attribute source precedence: which offered values a record may write, which lose.

`attributes` are merged key by key: each key is its own attribute (`attributes.location`) for
precedence and provenance, so one source's extra attributes never erase another's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNMERGED = frozenset({"user_name", "external_id"})  # identify records; never overwritten by merge


@dataclass(frozen=True)
class Policy:
    """A tenant's correlation rules and precedence."""

    rules: tuple[str, ...]
    precedence: dict[str, list[str]]

    def rank(self, attribute: str, source: str) -> int:
        """Lower is stronger; unlisted sources rank after every listed one."""
        order = self.precedence.get(attribute) or self.precedence.get("*") or []
        return order.index(source) if source in order else len(order)


@dataclass(frozen=True)
class Loser:
    """An offered value that lost to the source holding the attribute."""

    attribute: str
    offered: Any
    kept_source: str
    kept: Any


@dataclass
class Merged:
    """What a record changes, what it lost, and the provenance afterwards."""

    changes: dict[str, Any] = field(default_factory=dict)
    losers: list[Loser] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    provenance_changed: bool = False


def initial_provenance(data: Mapping[str, Any], source: str) -> dict[str, str]:
    """Provenance of a record that creates an identity: the source holds all it states."""
    held = {k: source for k, v in data.items() if v is not None and k != "attributes"}
    held.update((f"attributes.{k}", source) for k in data.get("attributes") or {})
    return held


def merge(
    current: Mapping[str, Any],
    provenance: Mapping[str, str],
    policy: Policy,
    source: str,
    record: Mapping[str, Any],
) -> Merged:
    """Merge `record` from `source` into `current` (a snapshot with `attributes`)."""
    out = Merged(provenance=dict(provenance))
    for attribute, offered in record.items():
        if attribute in UNMERGED or offered is None:
            continue
        if attribute == "attributes":
            merged_attrs = dict(current.get("attributes") or {})
            for key, value in offered.items():
                if _decide(out, policy, source, f"attributes.{key}", merged_attrs.get(key), value):
                    merged_attrs[key] = value
            if merged_attrs != (current.get("attributes") or {}):
                out.changes["attributes"] = merged_attrs
        elif _decide(out, policy, source, attribute, current.get(attribute), offered):
            out.changes[attribute] = offered
    out.provenance_changed = out.provenance != provenance
    return out


def _decide(
    out: Merged, policy: Policy, source: str, attribute: str, current: Any, offered: Any
) -> bool:
    """True when `offered` should replace `current`; records provenance and losers."""
    holder = out.provenance.get(attribute)
    wins = (
        holder is None
        or holder == source
        or policy.rank(attribute, source) <= policy.rank(attribute, holder)
    )
    if wins:
        out.provenance[attribute] = source
        return bool(current != offered)
    if current != offered:
        out.losers.append(Loser(attribute, offered, holder or "", current))
    return False
