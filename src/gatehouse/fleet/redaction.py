"""Erasing and masking decision inputs by the store's classification, the way OPA records it.

OPA's own mask policy removes fields (listed in the event's `erased`) or replaces them
(listed in `masked`), as JSON pointers. Gatehouse applies the same two operations to what it
stores: a key naming a `restricted` attribute, or a secret (`password`, `authorization`, ...),
is erased; a `confidential` one is masked when the tenant's level says so. Values of erased
fields are never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gatehouse.connectors.protocol import Sensitivity
from gatehouse.kit.masking import MASK, secret_key

KEEP, ERASE, MASKED = 0, 1, 2
VERDICT_CACHE = 10_000  # distinct keys remembered per redactor


def pointer_token(key: str) -> str:
    """A key as one JSON pointer reference token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class Redactor:
    """Which key names to erase and which to mask (lower-cased)."""

    erase: frozenset[str] = frozenset()
    mask: frozenset[str] = frozenset()
    verdicts: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_levels(cls, levels: Mapping[str, Sensitivity], mask_from: str) -> Redactor:
        """Erase restricted names; mask confidential ones when `mask_from` is confidential."""
        erase = {name for name, level in levels.items() if level is Sensitivity.restricted}
        mask: set[str] = set()
        if mask_from == Sensitivity.confidential.value:
            mask = {name for name, level in levels.items() if level is Sensitivity.confidential}
        return cls(frozenset(erase), frozenset(mask))

    def verdict(self, key: str) -> int:
        """KEEP, ERASE or MASK for a key (cached per redactor: the same keys recur)."""
        found = self.verdicts.get(key)
        if found is None:
            lowered = key.lower()
            if lowered in self.erase or secret_key(lowered):
                found = ERASE
            else:
                found = MASKED if lowered in self.mask else KEEP
            if len(self.verdicts) < VERDICT_CACHE:
                self.verdicts[key] = found
        return found

    def apply(self, value: Any, base: str, report: Redactions) -> Any:
        """`value` with classified keys erased or masked, pointers noted in `report`.

        Containers are copied only where something changed; the rest is returned as is.
        """
        return self._walk(value, [base], report)

    def _walk(self, value: Any, trail: list[Any], report: Redactions) -> Any:
        """apply(), with the pointer kept as a list of raw keys until one is needed."""
        if type(value) is list:
            return self._walk_list(value, trail, report)
        if type(value) is not dict:
            return value
        known = self.verdicts.get
        out: dict[Any, Any] | None = None
        for key, item in value.items():
            verdict = known(key)
            if verdict is None:
                verdict = self.verdict(key if isinstance(key, str) else str(key))
            new = item
            if verdict == KEEP:
                if type(item) is dict or type(item) is list:
                    trail.append(key)
                    new = self._walk(item, trail, report)
                    trail.pop()
            elif verdict == ERASE:
                report.erased.append(_pointer(trail, key))
            else:
                report.masked.append(_pointer(trail, key))
                new = MASK
            if out is None and (verdict != KEEP or new is not item):
                out = _before(value, key)
            if out is not None and verdict != ERASE:
                out[key] = new
        return value if out is None else out

    def _walk_list(self, value: list[Any], trail: list[Any], report: Redactions) -> list[Any]:
        """_walk() of a list: only its containers can change."""
        changed: list[Any] | None = None
        for n, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                trail.append(n)
                new = self._walk(item, trail, report)
                trail.pop()
                if new is not item and changed is None:
                    changed = list(value)
                if changed is not None:
                    changed[n] = new
        return value if changed is None else changed


def _before(value: dict[Any, Any], stop: Any) -> dict[Any, Any]:
    """The items of `value` that come before key `stop`."""
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if key is stop:
            break
        out[key] = item
    return out


def _pointer(trail: list[Any], name: Any) -> str:
    """The JSON pointer of key `name` under the containers in `trail` (trail[0]: the base)."""
    tokens = [pointer_token(str(t)) for t in trail[1:]]
    return "/".join([trail[0], *tokens, pointer_token(str(name))])


@dataclass(slots=True)
class Redactions:
    """JSON pointers of what was erased and masked in one event."""

    erased: list[str] = field(default_factory=list)
    masked: list[str] = field(default_factory=list)


def merged(first: list[str], more: list[str]) -> list[str]:
    """`first` then the pointers of `more` it lacks, in order."""
    out = list(first)
    seen = set(out)
    for pointer in more:
        if pointer not in seen:
            seen.add(pointer)
            out.append(pointer)
    return out
