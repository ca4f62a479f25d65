"""Settings PUTs change only what they name: the one rule for every settings document."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def named_only(current: M, given: M) -> M:
    """`current` with the fields `given` was sent with replaced (null included), validated."""
    changed = given.model_dump(exclude_unset=True)
    return type(current).model_validate({**current.model_dump(), **changed})
