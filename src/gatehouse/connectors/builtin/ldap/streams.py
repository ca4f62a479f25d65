"""The three streams (`users`, `groups`, `memberships`): their searches and their reads."""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from gatehouse.connectors.builtin.ldap.client import Session, complete_ranges
from gatehouse.connectors.builtin.ldap.cursor import Checkpoint, Tracker, iso_key, moment_key
from gatehouse.connectors.builtin.ldap.records import Shaper
from gatehouse.connectors.builtin.ldap.schema import Schema
from gatehouse.connectors.builtin.ldap.settings import Flavor, LdapSettings
from gatehouse.connectors.builtin.ldap.values import generalized_time
from gatehouse.connectors.protocol import Batch, SyncMode

STREAMS = ("users", "groups", "memberships")
_DN_SPACES = re.compile(r"\s*([,=+])\s*")


@dataclass(frozen=True)
class Query:
    """One stream's search: where, which entries, which attributes."""

    base: str
    filter: str
    attributes: tuple[str, ...]


def class_filter(classes: list[str], extra: str | None) -> str:
    """(&(|(objectClass=a)(objectClass=b))extra)."""
    parts = "".join(f"(objectClass={c})" for c in classes)
    either = parts if len(classes) == 1 else f"(|{parts})"
    return f"(&{either}{extra})" if extra else either


def query(settings: LdapSettings, stream: str) -> Query:
    """The search behind a stream (memberships read groups)."""
    users = stream == "users"
    kind = "user" if users else "group"
    base = getattr(settings, f"{kind}_base_dn") or settings.base_dn
    wanted = list(settings.user_attributes if users else settings.group_attributes)
    extra = [settings.default("id_attribute"), settings.default("cursor_attribute")]
    if users:
        extra += ["memberOf"] + (
            ["userAccountControl"] if settings.flavor is Flavor.active_directory else []
        )
    else:
        extra += settings.default("member_attributes")
    if stream == "memberships":
        wanted = []
    names = list(dict.fromkeys([*wanted, *extra]))
    return Query(
        base,
        class_filter(
            settings.default(f"{kind}_object_classes"), settings.default(f"{kind}_filter")
        ),
        tuple(names),
    )


def normal_dn(dn: str) -> str:
    """A DN in a form two spellings of the same entry share (case and spacing)."""
    return _DN_SPACES.sub(r"\1", dn.strip().lower())


def time_suffix(settings: LdapSettings) -> str:
    """How a second-aligned GeneralizedTime ends in a filter for this directory."""
    return ".0Z" if settings.flavor is Flavor.active_directory else "Z"


def server_now(root_dse: dict[str, list[bytes]]) -> datetime.datetime:
    """The server's clock when its root DSE tells it (AD's currentTime), else this host's."""
    raw = next((v for k, v in root_dse.items() if k.lower() == "currenttime"), None)
    iso = generalized_time(raw[0]) if raw else None
    if iso:
        return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Reader:
    """One read of one stream over an open session."""

    session: Session
    settings: LdapSettings
    schema: Schema
    root_dse: dict[str, list[bytes]]
    sortable: bool  # the server advertises RFC 2891 sorting

    def start(self, mode: SyncMode, state: Checkpoint | None) -> Checkpoint:
        """Where this read begins: a full refresh starts over unless resuming a broken one."""
        if state is None or (mode is SyncMode.full_refresh and state.complete):
            return Checkpoint(None, {}, complete=False)
        return state

    def search_filter(self, q: Query, start: Checkpoint, mode: SyncMode) -> str:
        """The stream's filter narrowed to the cursor."""
        if start.cursor is None:
            return q.filter
        cursor = self.settings.default("cursor_attribute")
        since = f"({cursor}>={start.cursor[:14]}{time_suffix(self.settings)})"
        if mode is SyncMode.full_refresh:  # a resumed full read keeps entries without a cursor
            since = f"(|{since}(!({cursor}=*)))"
        return f"(&{q.filter}{since})"

    async def records(
        self,
        stream: str,
        mode: SyncMode,
        state: Checkpoint | None,
        emit: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
    ) -> AsyncGenerator[Batch, None]:
        """Batches of a stream's records, one per page, then the final checkpoint.

        Fetching and shaping a page both run in a worker thread; `emit` turns one record into
        the stream's records (memberships: one per member).
        """
        q = query(self.settings, stream)
        start = self.start(mode, state)
        lookback = datetime.timedelta(seconds=self.settings.cursor_lookback_seconds)
        tracker = Tracker(start, moment_key(server_now(self.root_dse) - lookback))
        shaper = Shaper(self.settings, self.schema, q.attributes, users=stream == "users")
        cursor_field = shaper.field_name(self.settings.default("cursor_attribute"))
        suffix = time_suffix(self.settings)
        sort = self.settings.default("cursor_attribute") if self.sortable else None
        pages = self.session.pages(
            q.base, self.search_filter(q, start, mode), q.attributes, self.settings.page_size, sort
        )

        ranged = self.settings.flavor is Flavor.active_directory  # only AD splits big values

        def step() -> Batch | None:
            page = next(pages, None)
            if page is None:
                return None
            tracker.page(page.sorted)
            if ranged:
                complete_ranges(self.session, page.entries)
            out: list[dict[str, Any]] = []
            record_of, admit = shaper.record, tracker.admit
            for entry in page.entries:
                record = record_of(entry)
                if admit(record["id"], iso_key(record.get(cursor_field)), record):
                    if emit is None:
                        out.append(record)
                    else:
                        out.extend(emit(record))
            return Batch(out, tracker.page_done().dump(suffix))

        try:
            while (batch := await asyncio.to_thread(step)) is not None:
                yield batch
        finally:
            await asyncio.to_thread(pages.close)
        yield Batch([], tracker.finish().dump(suffix))
