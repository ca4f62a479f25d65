"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field

from gatehouse.kit.problems import Problem

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of results and the cursor for the next one (null on the last page)."""

    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page.")


def encode_cursor(key: str | int) -> str:
    """Turn the last key of a page into an opaque cursor."""
    return base64.urlsafe_b64encode(orjson.dumps({"k": key})).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | int | None:
    """Read a cursor back into the key it was made from, or reject it with 400."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)["k"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise Problem(400, "The cursor is not one this API issued.") from None
    if not isinstance(key, str | int):
        raise Problem(400, "The cursor is not one this API issued.")
    return key


def paginate(
    rows: Sequence[Any], limit: int, shape: Callable[[Any], T], key: str = "id"
) -> Page[T]:
    """A page from `limit + 1` fetched rows: the extra row only says another page exists."""
    shown = rows[:limit]
    more = len(rows) > limit and bool(shown)
    return Page[T](
        items=[shape(row) for row in shown],
        next_cursor=encode_cursor(getattr(shown[-1], key)) if more else None,
    )
