"""Incremental reads and page checkpoints by a timestamp cursor (modifyTimestamp, whenChanged).

State: `{"v": 1, "cursor": "20240301120000Z" | null, "seen": {id: digest}, "complete": bool}`.
A read searches `cursor >= state.cursor` and skips an entry whose id is in `seen` with the
same digest, so the boundary second is read again but not emitted twice, and an entry changed
again within that second is emitted. The saved cursor never passes "now minus the look-back",
so a change written while a run reads is found by the next one.

The paged-results cookie dies with the connection, so a broken run resumes by searching again
from its last checkpoint. When the server sorts by the cursor (RFC 2891), every page moves the
checkpoint forward; when it cannot, a page checkpoint keeps the run's starting cursor and
lists what was emitted (up to MAX_SEEN entries), so a resumed run re-reads without
re-emitting; past that it re-emits (never skips) what it had already sent.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gatehouse.connectors.protocol import CheckFailure, ConnectorError

MAX_SEEN = 5_000
VERSION = 1


def digest(record: Mapping[str, Any]) -> str:
    """A short content hash of a record."""
    return hashlib.blake2b(
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest_size=8
    ).hexdigest()


def iso_key(iso: Any) -> str | None:
    """An ISO-8601 UTC timestamp as the sortable key 'YYYYMMDDHHMMSS.ffffff'."""
    if not isinstance(iso, str) or len(iso) < 20:
        return None
    fraction = iso[20:-1] if iso[19] == "." else ""
    return f"{iso[0:4]}{iso[5:7]}{iso[8:10]}{iso[11:13]}{iso[14:16]}{iso[17:19]}.{fraction:0<6}"


def second(key: str) -> str:
    """The key truncated to its second (what a filter can express everywhere)."""
    return key[:14] + ".000000"


def moment_key(moment: datetime.datetime) -> str:
    """A datetime as a key."""
    return moment.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S.%f")


@dataclass
class Checkpoint:
    """The position of one stream's read, and what it emitted at and after that position."""

    cursor: str | None = None  # a key, second-aligned; None = from the beginning
    seen: dict[str, str] = field(default_factory=dict)
    complete: bool = True

    def dump(self, time_suffix: str) -> dict[str, Any]:
        """The JSON state (cursor as GeneralizedTime, e.g. 20240301120000Z)."""
        stamp = self.cursor[:14] + time_suffix if self.cursor else None
        return {"v": VERSION, "cursor": stamp, "seen": dict(self.seen), "complete": self.complete}

    @classmethod
    def load(cls, state: Mapping[str, Any] | None) -> Checkpoint | None:
        """A checkpoint from state written by `dump`, None for no state; bad state raises."""
        if not state:
            return None
        cursor, seen = state.get("cursor"), state.get("seen", {})
        ok = (
            state.get("v") == VERSION
            and (cursor is None or (isinstance(cursor, str) and cursor[:14].isdigit()))
            and isinstance(seen, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in seen.items())
        )
        if not ok:
            raise ConnectorError(
                CheckFailure.config,
                "the checkpoint state was not written by this LDAP connector (version "
                f"{VERSION}); clear the stream's state to read it in full again",
            )
        key = cursor[:14] + ".000000" if cursor else None
        return cls(key, dict(seen), bool(state.get("complete", True)))


def _bounded(seen: dict[str, str] | None, key: str, mark: str) -> dict[str, str] | None:
    """Add to a map that gives up (None) past MAX_SEEN entries."""
    if seen is None:
        return None
    seen[key] = mark
    return seen if len(seen) <= MAX_SEEN else None


class Tracker:
    """Follows one run: decides what to emit and writes the checkpoint after each page."""

    def __init__(self, start: Checkpoint, cap: str) -> None:
        self.start = start
        self.cap = second(cap)  # the cursor may not pass this (now minus look-back)
        self.sorted = True  # until a page says otherwise
        self.high: str | None = None  # highest key seen in this run
        self.recent: dict[str, str] | None = {}  # at or after the cap (None: too many)
        self.high_second: dict[str, str] | None = {}  # in the second of `high`
        self.emitted: dict[str, str] | None = {}  # this run's output while unsorted

    def page(self, sorted_: bool | None) -> None:
        """A page arrived; unsorted pages make page checkpoints keep the starting cursor."""
        if sorted_ is not True:
            self.sorted = False

    def admit(self, record_id: str, key: str | None, record: Mapping[str, Any]) -> bool:
        """Whether to emit a record; remembers what the checkpoint needs."""
        high = self.high
        if key is not None and (high is None or key > high):
            if high is None or key[:14] != high[:14]:
                self.high_second = {}
            self.high = high = key
        recent = key is None or key >= self.cap
        in_high = not recent and high is not None and key is not None and key[:14] == high[:14]
        known = self.start.seen.get(record_id)
        unsorted = not self.sorted and self.emitted is not None
        if not (
            known is not None
            or unsorted
            or (recent and self.recent is not None)
            or (in_high and self.high_second is not None)
        ):
            return True
        mark = digest(record)
        if recent:
            self.recent = _bounded(self.recent, record_id, mark)
        elif in_high:
            self.high_second = _bounded(self.high_second, record_id, mark)
        if unsorted:
            self.emitted = _bounded(self.emitted, record_id, mark)
        return known != mark

    def page_done(self) -> Checkpoint:
        """The checkpoint after a page."""
        if self.sorted and self.high is not None:
            return self._forward(complete=False)
        seen = dict(self.start.seen)
        if self.emitted is not None and len(seen) + len(self.emitted) <= MAX_SEEN:
            seen.update(self.emitted)
        return Checkpoint(self.start.cursor, seen, complete=False)

    def finish(self) -> Checkpoint:
        """The checkpoint after the last page: the next incremental read starts here."""
        if self.high is None:
            return Checkpoint(self.start.cursor, dict(self.start.seen), complete=True)
        return self._forward(complete=True)

    def _forward(self, *, complete: bool) -> Checkpoint:
        assert self.high is not None
        cursor = min(second(self.high), self.cap)
        if self.start.cursor is not None:
            cursor = max(cursor, self.start.cursor)
        parts = [self.recent] if cursor >= self.cap else [self.recent, self.high_second]
        seen: dict[str, str] = {}
        for part in parts:
            if part is None:
                return Checkpoint(cursor, {}, complete=complete)
            seen.update(part)
        return Checkpoint(cursor, seen if len(seen) <= MAX_SEEN else {}, complete=complete)
