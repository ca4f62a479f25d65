"""Computed values: templates like `{given_name} {family_name}` and small safe expressions.

Expressions use `simpleeval` (a maintained evaluator over Python's `ast` that allows only
literals, operators, comparisons, conditionals, subscripts and a whitelist of methods; no
`eval`, no imports, no dunder attributes, bounded string and power sizes). Both read the
source record; they never see anything else.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable, Mapping
from typing import Any

import simpleeval

from gatehouse.connectors.transform.errors import Invalid
from gatehouse.connectors.transform.normalize import text
from gatehouse.connectors.transform.paths import getter, parse_path

Compute = Callable[[Mapping[str, Any]], Any]
MAX_LENGTH = 2000


def _coalesce(*values: Any) -> Any:
    """The first value that is neither None nor empty text."""
    return next((v for v in values if v is not None and v != ""), None)


def _join(values: Any, separator: str = ", ") -> str:
    """Items of a list (None left out) as text joined by `separator`."""
    if not isinstance(values, list):
        raise TypeError("join() needs a list")
    return separator.join(text(v) for v in values if v is not None)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "coalesce": _coalesce,
    "lower": lambda v: None if v is None else text(v).lower(),
    "upper": lambda v: None if v is None else text(v).upper(),
    "trim": lambda v: None if v is None else text(v).strip(),
    "str": lambda v: None if v is None else text(v),
    "int": int,
    "float": float,
    "len": len,
    "join": _join,
    "split": lambda v, sep=",": [] if v is None else [p.strip() for p in text(v).split(sep)],
}


def parse_template(template: str) -> list[str | tuple[str, Any]]:
    """Literal parts and ("path", getter) placeholders; raises ValueError on bad syntax."""
    if len(template) > MAX_LENGTH:
        raise ValueError(f"a template is at most {MAX_LENGTH} characters")
    parts: list[str | tuple[str, Any]] = []
    literal: list[str] = []
    position = 0
    while position < len(template):
        char = template[position]
        if char in "{}" and template[position : position + 2] in ("{{", "}}"):
            literal.append(char)
            position += 2
        elif char == "}":
            raise ValueError(f"unmatched '}}' at position {position} (write '}}}}' for a brace)")
        elif char == "{":
            end = template.find("}", position)
            if end < 0:
                raise ValueError(f"unclosed '{{' at position {position} (write '{{{{' for a brace)")
            path = template[position + 1 : end].strip()
            try:
                segments = parse_path(path)
            except ValueError as exc:
                raise ValueError(f"placeholder {{{path}}}: {exc}") from None
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append((path, getter(segments)))
            position = end + 1
        else:
            literal.append(char)
            position += 1
    if literal:
        parts.append("".join(literal))
    if not any(isinstance(part, tuple) for part in parts):
        raise ValueError("a template needs at least one {placeholder}; use `value` for a constant")
    return parts


def template(source: str) -> Compute:
    """Render `source` per record; None when every placeholder is missing."""
    parts = parse_template(source)
    placeholders = [part for part in parts if isinstance(part, tuple)]
    # The usual case: every value present as text, rendered by one str.format call.
    layout = "".join(
        "{}" if isinstance(part, tuple) else part.replace("{", "{{").replace("}", "}}")
        for part in parts
    )
    reads = [read for _, read in placeholders]

    def slow(record: Mapping[str, Any]) -> str | None:
        out: list[str] = []
        found = False
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part[1](record)
            if value is None or value == "":
                continue
            try:
                out.append(text(value))
            except Invalid:
                raise Invalid(f"placeholder {{{part[0]}}} is not text") from None
            found = True
        return "".join(out) if found else None

    if len(reads) == 2:
        first, second = reads

        def render_two(record: Mapping[str, Any]) -> str | None:
            a, b = first(record), second(record)
            if type(a) is str and a and type(b) is str and b:
                return layout.format(a, b)
            return slow(record)

        return render_two

    def render(record: Mapping[str, Any]) -> str | None:
        values = [read(record) for read in reads]
        for value in values:
            if type(value) is not str or not value:
                return slow(record)
        return layout.format(*values)

    return render


def check_expression(source: str) -> ast.Expression:
    """Parse an expression and check that it calls only the known functions."""
    if len(source) > MAX_LENGTH:
        raise ValueError(f"an expression is at most {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a valid expression: {exc.msg} at column {exc.offset}") from None
    for node in ast.walk(tree):
        # Methods (`name.lower()`) are simpleeval's whitelisted ones; functions must be ours.
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id not in FUNCTIONS
        ):
            raise ValueError(f"unknown function; known: {', '.join(sorted(FUNCTIONS))}")
        if isinstance(node, ast.Lambda | ast.NamedExpr | ast.comprehension):
            raise ValueError("lambdas, := and comprehensions are not allowed")
    return tree


class _Evaluators(threading.local):
    """One evaluator per thread: simpleeval keeps the names being read on the instance."""

    def __init__(self) -> None:
        self.evaluator = simpleeval.SimpleEval(functions=FUNCTIONS, names={})


_local = _Evaluators()


def expression(source: str) -> Compute:
    """Evaluate `source` per record with the record's fields as names (missing ones are None)."""
    tree = check_expression(source)
    parsed = tree.body

    def evaluate(record: Mapping[str, Any]) -> Any:
        evaluator = _local.evaluator
        evaluator.names = _Names(record)
        try:
            return evaluator.eval(source, previously_parsed=parsed)
        except (simpleeval.InvalidExpression, ArithmeticError, TypeError, ValueError) as exc:
            # The exception's text may quote a value (restricted data); name only its kind.
            raise Invalid(
                f"the expression failed ({type(exc).__name__}); check that the fields it reads "
                "are present and of the type it expects"
            ) from None
        except (KeyError, IndexError, AttributeError):
            return None
        finally:
            evaluator.names = {}

    return evaluate


class _Names(dict[str, Any]):
    """The record as names: a field the record lacks reads as None instead of failing."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        super().__init__(record)

    def __missing__(self, key: str) -> None:
        return None
