"""Parsed SCIM filters compiled to SQL WHERE clauses, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)

from gatehouse.scim.filters import (
    Attr,
    Compare,
    Logical,
    Node,
    Not,
    Present,
    Quoted,
    Value,
    ValuePath,
    invalid,
)

Kind = Literal["string", "boolean", "datetime"]
Clause = ColumnElement[bool]
Column = ColumnElement[Any]


@dataclass(frozen=True)
class Scalar:
    """A single-valued attribute held in a column or a JSON path."""

    column: Column
    kind: Kind = "string"
    case_exact: bool = False
    lowered: bool = False  # the column holds the lower-cased value already
    truth: tuple[Any, Any] = (True, False)  # how true and false are stored
    values: Mapping[str, str] = field(default_factory=dict)  # SCIM value → stored value


@dataclass(frozen=True)
class Elements:
    """A multi-valued attribute: EXISTS over its values, each with sub-attributes."""

    # Given the dialect, a FROM/WHERE pair for one value and its sub-attributes as Scalars.
    scope: Callable[[str], tuple[Any, Clause, Mapping[str, Scalar]]]
    default: str = "value"  # the sub-attribute meant when none is named
    mirror: Scalar | None = None  # a column that also holds a `value` (the primary email)


Attribute = Scalar | Elements


def json_list(json_column: Column, key: str, subs: Mapping[str, Kind]) -> Elements:
    """A multi-valued complex attribute stored as a JSON array of objects under `key`."""

    def scope(dialect: str) -> tuple[Any, Clause, Mapping[str, Scalar]]:
        if dialect == "sqlite":
            each = func.json_each(json_column, f"$.{key}").table_valued("value", "type").alias()

            def field_(name: str) -> Column:
                # CASE keeps json_extract away from values that are not objects.
                path = f"$.{name}"
                return case((each.c.type == "object", func.json_extract(each.c.value, path)))

            truth: tuple[Any, Any] = (1, 0)
        else:
            array = json_column[key]
            guarded = case(
                (func.jsonb_typeof(array) == "array", array),
                else_=literal_column("'[]'::jsonb"),
            )
            each = func.jsonb_array_elements(guarded).table_valued("value").alias()

            def field_(name: str) -> Column:
                return each.c.value.op("->>")(name)

            truth = ("true", "false")
        scalars = {
            name.lower(): Scalar(
                field_(name), kind, truth=truth if kind == "boolean" else (True, False)
            )
            for name, kind in subs.items()
        }
        return each, true(), scalars

    return Elements(scope)


def related(
    link: Any, conditions: Callable[[], list[Clause]], subs: Mapping[str, Scalar]
) -> Elements:
    """A multi-valued attribute held in another table (group members, a user's groups)."""
    return Elements(lambda _dialect: (link, and_(*conditions()), subs))


class Compiler:
    """Compiles a filter over one resource type's attributes for one SQL dialect."""

    def __init__(self, attributes: Mapping[str, Attribute], dialect: str) -> None:
        self.attributes = attributes
        self.dialect = dialect

    def where(self, node: Node) -> Clause:
        """The WHERE clause for a parsed filter."""
        if isinstance(node, Logical):
            parts = (self.where(node.left), self.where(node.right))
            return and_(*parts) if node.op == "and" else or_(*parts)
        if isinstance(node, Not):
            return not_(self.where(node.inner))
        if isinstance(node, ValuePath):
            if node.attr.sub is not None:
                raise invalid(f"{node.attr.key!r} cannot hold a value filter.")
            elements = self._multi(node.attr)
            return self._any(elements, lambda subs: _scoped(self, subs, node.inner))
        target = self._resolve(node.attr)
        if isinstance(target, Scalar):
            return present(target) if isinstance(node, Present) else self.compare(target, node)
        sub = node.attr.sub or target.default
        leaf = (
            Present(Attr(sub))
            if isinstance(node, Present)
            else Compare(Attr(sub), node.op, node.value)
        )
        found = self._any(target, lambda subs: _scoped(self, subs, leaf))
        if target.mirror is not None and sub == target.default:
            mirrored = (
                present(target.mirror)
                if isinstance(leaf, Present)
                else self.compare(target.mirror, leaf)
            )
            return or_(mirrored, found)
        return found

    def _resolve(self, attr: Attr) -> Attribute:
        found = self.attributes.get(attr.key)
        if found is None and attr.sub is not None:
            parent = self.attributes.get(Attr(attr.name, None, attr.urn).key)
            if isinstance(parent, Elements):
                return parent
        if found is None:
            raise invalid(f"Filtering on {attr.key!r} is not supported.")
        return found

    def _multi(self, attr: Attr) -> Elements:
        found = self.attributes.get(attr.key)
        if not isinstance(found, Elements):
            raise invalid(f"{attr.key!r} is not a multi-valued attribute.")
        return found

    def _any(self, elements: Elements, inner: Callable[[Mapping[str, Scalar]], Clause]) -> Clause:
        source, condition, subs = elements.scope(self.dialect)
        return exists(select(1).select_from(source).where(condition, inner(subs)))

    def compare(self, target: Scalar, node: Compare) -> Clause:
        """`attribute op value`, never NULL (so `not` stays exact)."""
        op, value, column = node.op, node.value, target.column
        if value is None:
            if op not in ("eq", "ne"):
                raise invalid(f"Only eq and ne compare with null, not {op!r}.")
            return not_(present(target)) if op == "eq" else present(target)
        if target.kind == "boolean":
            return _boolean(target, op, value)
        if target.kind == "datetime":
            return _guard(column, op, _ordered(column, op, _when(value)))
        text = str(value)
        if target.values:
            text = target.values.get(text.lower(), text)
        elif not target.case_exact:
            column = column if target.lowered else func.lower(column)
            text = text.lower()
        if op in ("co", "sw", "ew"):
            return _guard(target.column, op, self._like(column, op, text, target.case_exact))
        return _guard(target.column, op, _ordered(column, op, text))

    def _like(self, column: Column, op: str, text: str, exact: bool) -> Clause:
        if exact and self.dialect == "sqlite":
            # SQLite's LIKE ignores case; a case-exact match compares substrings instead.
            if op == "co":
                return func.instr(column, text) > 0
            if not text:
                return true()
            start = 1 if op == "sw" else -len(text)
            return func.substr(column, start, len(text)) == text
        if op == "co":
            return column.contains(text, autoescape=True)
        if op == "sw":
            return column.startswith(text, autoescape=True)
        return column.endswith(text, autoescape=True)


def _scoped(compiler: Compiler, subs: Mapping[str, Scalar], node: Node) -> Clause:
    """Compile a filter whose attributes are the sub-attributes of one value."""
    return Compiler(dict(subs), compiler.dialect).where(node)


def present(target: Scalar) -> Clause:
    """`attribute pr`: assigned and, for strings, not empty."""
    if target.kind == "string":
        return and_(target.column.is_not(None), target.column != "")
    return target.column.is_not(None)


def _guard(column: Column, op: str, clause: Clause) -> Clause:
    """Make a comparison two-valued: a missing value matches `ne` and nothing else."""
    if op == "ne":
        return or_(column.is_(None), clause)
    return and_(column.is_not(None), clause)


def _ordered(column: Column, op: str, value: Any) -> Clause:
    comparisons: dict[str, Callable[[], Clause]] = {
        "eq": lambda: column == value,
        "ne": lambda: column != value,
        "gt": lambda: column > value,
        "ge": lambda: column >= value,
        "lt": lambda: column < value,
        "le": lambda: column <= value,
    }
    if op not in comparisons:
        raise invalid(f"The operator {op!r} does not apply to this attribute.")
    return comparisons[op]()


def _boolean(target: Scalar, op: str, value: Value) -> Clause:
    if op not in ("eq", "ne"):
        raise invalid(f"Boolean attributes compare with eq and ne only, not {op!r}.")
    word = str(value).lower()
    if word not in ("true", "false"):
        raise invalid(f"{value!r} is not a boolean.")
    stored = target.truth[0] if word == "true" else target.truth[1]
    column = target.column
    return _guard(column, op, column == stored if op == "eq" else column != stored)


def _when(value: Value) -> datetime:
    if not isinstance(value, Quoted):
        raise invalid("Dates compare with a quoted ISO 8601 string.")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(f"{value!r} is not an ISO 8601 date and time.") from None
    if when.tzinfo is None:
        raise invalid(f"{value!r} has no time zone (add Z or an offset).")
    return when
