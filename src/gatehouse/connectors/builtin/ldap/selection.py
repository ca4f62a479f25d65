"""A read narrowed to what the mapping selected, refusing fields the directory no longer has."""

from __future__ import annotations

from gatehouse.connectors.builtin.ldap.discover import MEMBERSHIP_FIELDS
from gatehouse.connectors.builtin.ldap.schema import SYNTAX_TIME
from gatehouse.connectors.builtin.ldap.settings import Flavor, LdapSettings
from gatehouse.connectors.builtin.ldap.streams import Reader
from gatehouse.connectors.protocol import SchemaChanged, Selection

SYNTHETIC = frozenset({"dn", "id", "active", "manager_id"})


def narrowed(reader: Reader, stream: str, selection: Selection) -> LdapSettings:
    """The settings that read only the selected fields (and the cursor the selection names)."""
    settings, schema = reader.settings, reader.schema
    if stream == "memberships":
        known = {f.name for f in MEMBERSHIP_FIELDS}
        gone = [f for f in selection.fields if f not in known]
        if gone:
            raise SchemaChanged(f"memberships has no field {gone[0]!r}; fix the mapping")
        return settings
    changes: dict[str, object] = {}
    cursor = selection.cursor_field
    if cursor:
        kind = schema.attribute(cursor)
        if kind is None or (schema.attributes and kind.syntax != SYNTAX_TIME):
            raise SchemaChanged(
                f"cursor field {cursor!r} of {stream} is not a time attribute of the directory "
                "schema: rediscover the schema and choose a listed cursor"
            )
        changes["cursor_attribute"] = cursor
    if selection.fields:
        wanted = [f for f in selection.fields if f not in SYNTHETIC]
        if "active" in selection.fields and (
            stream != "users" or settings.flavor is not Flavor.active_directory
        ):
            raise SchemaChanged(f"{stream} has no field 'active' (only AD users have it)")
        if "manager_id" in selection.fields:
            if stream != "users":
                raise SchemaChanged(f"{stream} has no field 'manager_id' (only users have it)")
            wanted.append(settings.manager_attribute)
        for name in wanted:
            if schema.attributes and schema.attribute(name) is None:
                raise SchemaChanged(
                    f"field {name!r} of {stream} is no longer in the directory schema: "
                    "rediscover the schema and update the mapping"
                )
        changes["user_attributes" if stream == "users" else "group_attributes"] = wanted
    return settings.model_copy(update=changes)
