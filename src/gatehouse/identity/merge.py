"""Per-attribute source precedence: which offered values a record may write, which lose.

`attributes` are merged key by key: each key is its own attribute (`attributes.location`) for
precedence and provenance, so one source's extra attributes never erase another's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

UNMERGED = frozenset({"user_name", "external_id"})  # identify records; never overwritten by merge
MANUAL = "manual"  # an operator's decision on a conflict: it outranks every source


@dataclass(frozen=True)
class Policy:
    """A tenant's correlation rules and precedence."""

    rules: tuple[str, ...]
    precedence: dict[str, list[str]]

    def rank(self, attribute: str, source: str) -> int:
        """Lower is stronger; unlisted sources rank after every listed one, `manual` first."""
        if source == MANUAL:
            return -1
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


class Nulls(StrEnum):
    """What None means in a record."""

    UNKNOWN = "unknown"  # the source does not know the value: nothing changes
    RETRACTED = "retracted"  # a full statement: the source withdraws a value it set itself
    CLEARED = "cleared"  # an explicit removal, decided by precedence like any value


def merge(
    current: Mapping[str, Any],
    provenance: Mapping[str, str],
    policy: Policy,
    source: str,
    record: Mapping[str, Any],
    *,
    skip: frozenset[str] = UNMERGED,
    nulls: Nulls = Nulls.UNKNOWN,
) -> Merged:
    """Merge `record` from `source` into `current` (a snapshot with `attributes`).

    A None in `attributes` is a value like any other unless `nulls` says otherwise; there,
    None removes the key.
    """
    out = Merged(provenance=dict(provenance))
    for attribute, offered in record.items():
        if attribute in skip:
            continue
        if attribute == "attributes":
            merged_attrs = dict(current.get("attributes") or {})
            for key, value in offered.items():
                name, held = f"attributes.{key}", merged_attrs.get(key)
                if value is not None or nulls is Nulls.UNKNOWN:
                    if _decide(out, policy, source, name, held, value):
                        merged_attrs[key] = value
                elif _clears(out, policy, source, name, held, nulls):
                    merged_attrs.pop(key, None)
            if merged_attrs != (current.get("attributes") or {}):
                out.changes["attributes"] = merged_attrs
        elif offered is not None:
            if _decide(out, policy, source, attribute, current.get(attribute), offered):
                out.changes[attribute] = offered
        elif _clears(out, policy, source, attribute, current.get(attribute), nulls):
            out.changes[attribute] = None
    out.provenance_changed = out.provenance != provenance
    return out


def _clears(
    out: Merged, policy: Policy, source: str, attribute: str, current: Any, nulls: Nulls
) -> bool:
    """True when a None from `source` should clear `current`."""
    if current is None or nulls is Nulls.UNKNOWN:
        return False
    if nulls is Nulls.RETRACTED:
        if out.provenance.get(attribute) != source:
            return False  # another source's value (or one of unknown origin) stays
        del out.provenance[attribute]
        return True
    return _decide(out, policy, source, attribute, current, None)


def _decide(
    out: Merged, policy: Policy, source: str, attribute: str, current: Any, offered: Any
) -> bool:
    """True when `offered` should replace `current`; records provenance and losers."""
    holder = out.provenance.get(attribute)
    if holder is None or holder == source:
        wins = True
    else:
        rank, held = policy.rank(attribute, source), policy.rank(attribute, holder)
        if rank == held and current == offered:
            return False  # an equal source agreeing takes nothing over
        wins = rank <= held
    if wins:
        out.provenance[attribute] = source
        return bool(current != offered)
    if current != offered:
        out.losers.append(Loser(attribute, offered, holder or "", current))
    return False
