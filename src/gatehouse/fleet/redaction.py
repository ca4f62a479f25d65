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

# The parts of an event OPA's mask policy may touch, and so may Gatehouse's.
MASKED_PARTS = ("input", "result", "mapped_result", "nd_builtin_cache")


def pointer_token(key: str) -> str:
    """A key as one JSON pointer reference token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class Redactor:
    """Which key names to erase and which to mask (lower-cased)."""

    erase: frozenset[str] = frozenset()
    mask: frozenset[str] = frozenset()

    @classmethod
    def from_levels(cls, levels: Mapping[str, Sensitivity], mask_from: str) -> Redactor:
        """Erase restricted names; mask confidential ones when `mask_from` is confidential."""
        erase = {name for name, level in levels.items() if level is Sensitivity.restricted}
        mask: set[str] = set()
        if mask_from == Sensitivity.confidential.value:
            mask = {name for name, level in levels.items() if level is Sensitivity.confidential}
        return cls(frozenset(erase), frozenset(mask))

    def apply(self, value: Any, base: str, report: Redactions) -> Any:
        """A copy of `value` with classified keys erased or masked, pointers noted in `report`."""
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                lowered = key.lower() if isinstance(key, str) else str(key)
                here = f"{base}/{pointer_token(str(key))}"
                if lowered in self.erase or secret_key(lowered):
                    report.erased.append(here)
                elif lowered in self.mask:
                    report.masked.append(here)
                    out[key] = MASK
                else:
                    out[key] = self.apply(item, here, report)
            return out
        if isinstance(value, list):
            return [self.apply(item, f"{base}/{n}", report) for n, item in enumerate(value)]
        return value


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
