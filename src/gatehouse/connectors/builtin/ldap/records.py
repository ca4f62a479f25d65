"""Entries to records: plain dicts with `dn`, `id` and one key per attribute."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gatehouse.connectors.builtin.ldap.schema import Schema
from gatehouse.connectors.builtin.ldap.settings import SECRET_ATTRIBUTES, Flavor, LdapSettings
from gatehouse.connectors.builtin.ldap.values import Convert, Entry, converter, lowered

UF_ACCOUNTDISABLE = 0x2


class Shaper:
    """Turns entries of one stream into records, learning each attribute's converter once."""

    def __init__(
        self, settings: LdapSettings, schema: Schema, requested: Iterable[str], *, users: bool
    ) -> None:
        self.schema = schema
        self.scalars = lowered(settings.default("scalar_attributes"))
        self.id_name = str(settings.default("id_attribute")).lower()
        self.cursor_name = str(settings.default("cursor_attribute"))
        explicit = lowered(requested)
        self.dropped = SECRET_ATTRIBUTES - explicit
        self.ad_user = users and settings.flavor is Flavor.active_directory
        self._plan: dict[str, tuple[str, Convert] | None] = {}

    def field_name(self, name: str) -> str:
        """The record key for an attribute: its schema name, or as the server sent it."""
        base = name.split(";", 1)[0]
        if base.lower() == self.id_name:
            return "id"
        kind = self.schema.attribute(base)
        return kind.name if kind else base

    def _learn(self, name: str) -> tuple[str, Convert] | None:
        base = name.split(";", 1)[0].lower()
        step = None
        if base not in self.dropped:
            scalars = self.scalars | {self.id_name}
            step = (self.field_name(name), converter(name, self.schema, scalars))
        self._plan[name] = step
        return step

    def record(self, entry: Entry) -> dict[str, Any]:
        """One record; the id falls back to the DN when the entry has no id attribute."""
        dn, attrs = entry
        plan = self._plan
        try:
            record = {
                step[0]: step[1](values)
                for name, values in attrs.items()
                if (step := plan[name]) is not None
            }
        except KeyError:
            for name in attrs:
                if name not in plan:
                    self._learn(name)
            return self.record(entry)
        record["dn"] = dn
        if "id" not in record:
            record["id"] = dn
        if self.ad_user:
            control = record.get("userAccountControl")
            record["active"] = not control & UF_ACCOUNTDISABLE if isinstance(control, int) else None
        return record
