"""DNs resolved to entry ids: the `memberships` stream (one record per group and member) and
the `manager_id` of the `users` stream."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from gatehouse.connectors.builtin.ldap.records import Shaper
from gatehouse.connectors.builtin.ldap.streams import Reader, normal_dn, query

Members = dict[str, tuple[str, str]]  # normalized DN -> (id, "identity" | "group")
_UNIQUE_SUFFIX = re.compile(r"#'[01]*'B$")  # uniqueMember's optional "#'0101'B" uid


MANAGER_ID = "manager_id"
EVERYONE = (("users", "identity"), ("groups", "group"))


async def member_index(reader: Reader, streams: tuple[tuple[str, str], ...] = EVERYONE) -> Members:
    """Every user's and group's DN with its id and kind (ids only: a light read)."""
    settings = reader.settings
    index: Members = {}
    id_attribute = str(settings.default("id_attribute"))
    for stream, kind in streams:
        q = query(settings, stream)
        shaper = Shaper(settings, reader.schema, [id_attribute], users=False)
        pages = reader.session.pages(q.base, q.filter, [id_attribute], settings.page_size, None)

        def fill(shaper: Shaper = shaper, kind: str = kind) -> bool:
            page = next(pages, None)  # noqa: B023 (each loop awaits its own pages to the end)
            if page is None:
                return False
            for entry in page.entries:
                index[normal_dn(entry[0])] = (shaper.record(entry)["id"], kind)
            return True

        try:
            while await asyncio.to_thread(fill):
                pass
        finally:
            await asyncio.to_thread(pages.close)
    return index


def edges(reader: Reader, members: Members) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """A function from a group record to its membership records."""
    shaper = Shaper(reader.settings, reader.schema, [], users=False)
    fields = [shaper.field_name(n) for n in reader.settings.default("member_attributes")]

    def expand(group: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        group_id, group_dn = group["id"], group["dn"]
        for name in fields:
            values = group.get(name) or ()
            for dn in [values] if isinstance(values, str) else values:
                member_dn = _UNIQUE_SUFFIX.sub("", dn)
                found = members.get(normal_dn(member_dn))
                out.append(
                    {
                        "group_id": group_id,
                        "member_id": found[0] if found else None,
                        "member_kind": found[1] if found else "unknown",
                        "group_dn": group_dn,
                        "member_dn": member_dn,
                    }
                )
        return out

    return expand


async def has_managers(reader: Reader) -> bool:
    """Whether any user names a manager (one entry, no attributes: a probe)."""
    q = query(reader.settings, "users")
    named = f"(&{q.filter}({reader.settings.manager_attribute}=*))"
    pages = reader.session.pages(q.base, named, ["1.1"], 1, None)
    try:
        page = await asyncio.to_thread(next, pages, None)
    finally:
        await asyncio.to_thread(pages.close)
    return bool(page and page.entries)


def managers(reader: Reader, people: Members) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """A function adding `manager_id` to a user record: the manager's id, or the DN itself
    when it names no user the connection reads (so the sync reports it), or None."""
    shaper = Shaper(reader.settings, reader.schema, [], users=False)
    name = shaper.field_name(reader.settings.manager_attribute)

    def add(user: dict[str, Any]) -> list[dict[str, Any]]:
        dn = user.get(name)
        if isinstance(dn, list):
            dn = dn[0] if dn else None
        found = people.get(normal_dn(dn)) if dn else None
        user[MANAGER_ID] = found[0] if found else dn
        return [user]

    return add
