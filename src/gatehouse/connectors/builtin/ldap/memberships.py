"""The `memberships` stream: one record per (group, member), member DNs resolved to ids."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from gatehouse.connectors.builtin.ldap.records import Shaper
from gatehouse.connectors.builtin.ldap.streams import Reader, normal_dn, query

Members = dict[str, tuple[str, str]]  # normalized DN -> (id, "identity" | "group")
_UNIQUE_SUFFIX = re.compile(r"#'[01]*'B$")  # uniqueMember's optional "#'0101'B" uid


async def member_index(reader: Reader) -> Members:
    """Every user's and group's DN with its id and kind (ids only: a light read)."""
    settings = reader.settings
    index: Members = {}
    id_attribute = str(settings.default("id_attribute"))
    for stream, kind in (("users", "identity"), ("groups", "group")):
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
