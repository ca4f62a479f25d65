"""The directory's schema (RFC 4512 subschema subentry), reduced to what reading needs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_NAMES = re.compile(r"\bNAME\s+(?:'([^']+)'|\(\s*((?:'[^']+'\s*)+)\))")
_QUOTED = re.compile(r"'([^']+)'")
_SYNTAX = re.compile(r"\bSYNTAX\s+'?([0-9.]+)")
_SUP = re.compile(r"\bSUP\s+(?:\(\s*([^)]*)\)|([\w.-]+))")
_LIST = {key: re.compile(rf"\b{key}\s+(?:\(\s*([^)]*)\)|([\w.;-]+))") for key in ("MUST", "MAY")}

SYNTAX_TIME = "1.3.6.1.4.1.1466.115.121.1.24"
SYNTAX_INTEGER = "1.3.6.1.4.1.1466.115.121.1.27"
SYNTAX_BOOLEAN = "1.3.6.1.4.1.1466.115.121.1.7"
SYNTAX_DN = "1.3.6.1.4.1.1466.115.121.1.12"
SYNTAX_UUID = "1.3.6.1.1.16.1"
SYNTAX_LARGE_INTEGER = "1.2.840.113556.1.4.906"  # AD Integer8
BINARY_SYNTAXES = frozenset(
    {
        "1.3.6.1.4.1.1466.115.121.1.40",  # octet string
        "1.3.6.1.4.1.1466.115.121.1.5",  # binary
        "1.3.6.1.4.1.1466.115.121.1.28",  # JPEG
        "1.3.6.1.4.1.1466.115.121.1.8",  # certificate
        "1.3.6.1.4.1.1466.115.121.1.9",  # certificate list
        "1.3.6.1.4.1.1466.115.121.1.10",  # certificate pair
        "1.2.840.113556.1.4.907",  # AD security descriptor
    }
)


@dataclass(frozen=True)
class AttributeType:
    """One attribute type: its syntax (resolved through SUP) and whether it is single-valued."""

    name: str
    syntax: str | None
    single: bool
    operational: bool


@dataclass(frozen=True)
class ObjectClass:
    """One object class with its direct superclasses and attributes."""

    name: str
    sup: tuple[str, ...]
    must: tuple[str, ...]
    may: tuple[str, ...]


@dataclass
class Schema:
    """Attribute types and object classes by lower-case name (any of their names)."""

    attributes: dict[str, AttributeType] = field(default_factory=dict)
    classes: dict[str, ObjectClass] = field(default_factory=dict)

    def attribute(self, name: str) -> AttributeType | None:
        """The attribute type called `name` (options such as ';binary' ignored)."""
        return self.attributes.get(name.split(";", 1)[0].lower())

    def allowed(self, class_names: Iterable[str]) -> list[str]:
        """Every attribute the classes (and their superclasses) require or allow, in order."""
        seen: dict[str, str] = {}
        todo = list(class_names)
        visited: set[str] = set()
        while todo:
            kind = self.classes.get(todo.pop(0).lower())
            if kind is None or kind.name.lower() in visited:
                continue
            visited.add(kind.name.lower())
            for name in (*kind.must, *kind.may):
                known = self.attribute(name)
                seen.setdefault(name.lower(), known.name if known else name)
            todo.extend(kind.sup)
        return list(seen.values())


def _names(text: str) -> list[str]:
    match = _NAMES.search(text)
    if not match:
        return []
    return [match.group(1)] if match.group(1) else _QUOTED.findall(match.group(2))


def _list(pattern: re.Pattern[str], text: str) -> tuple[str, ...]:
    match = pattern.search(text)
    if not match:
        return ()
    raw = match.group(1) if match.group(1) is not None else match.group(2)
    return tuple(part.strip() for part in raw.split("$") if part.strip())


def parse(attribute_types: Iterable[str], object_classes: Iterable[str]) -> Schema:
    """A Schema from the definitions in a subschema subentry."""
    schema = Schema()
    pending: list[tuple[list[str], str | None, str | None, bool, bool]] = []
    for text in attribute_types:
        names = _names(text)
        if not names:
            continue
        found = _SYNTAX.search(text)
        sup = _list(_SUP, text)
        pending.append(
            (
                names,
                found.group(1) if found else None,
                sup[0] if sup else None,
                "SINGLE-VALUE" in text,
                "USAGE" in text and "userApplications" not in text,
            )
        )
    syntaxes = {n.lower(): s for names, s, _, _, _ in pending for n in names}
    parents = {n.lower(): p for names, _, p, _, _ in pending for n in names}
    for names, own, _sup, single, operational in pending:
        resolved, hops, current = own, 0, names[0].lower()
        while resolved is None and hops < 10 and parents.get(current):
            current = str(parents[current]).lower()
            resolved, hops = syntaxes.get(current), hops + 1
        kind = AttributeType(names[0], resolved, single, operational)
        for name in names:
            schema.attributes[name.lower()] = kind
    for text in object_classes:
        names = _names(text)
        if not names:
            continue
        kind_class = ObjectClass(
            names[0], _list(_SUP, text), _list(_LIST["MUST"], text), _list(_LIST["MAY"], text)
        )
        for name in names:
            schema.classes[name.lower()] = kind_class
    return schema
