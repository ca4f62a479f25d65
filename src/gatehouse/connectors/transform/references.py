"""The source fields a mapping reads, so a mapping can be checked against a discovered stream."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gatehouse.connectors.transform.checks import leaves
from gatehouse.connectors.transform.expressions import parse_template
from gatehouse.connectors.transform.paths import parse_path
from gatehouse.connectors.transform.spec import Condition, FieldSpec, StepSpec, TransformSpec

_CONSTANTS = frozenset({"None", "True", "False"})


def read_fields(spec: TransformSpec) -> frozenset[str]:
    """The top-level source fields the mapping's paths, templates and expressions read."""
    found: set[str] = set()
    fields = [*spec.fields.values(), *([spec.external_id] if spec.external_id else [])]
    for field in fields:
        found.update(_field(field))
    if spec.filter is not None:
        found.update(_condition(spec.filter))
    return frozenset(found)


def _field(field: FieldSpec) -> Iterator[str]:
    if field.from_ is not None:
        yield _top(field.from_)
    if field.template is not None:
        yield from (
            _top(part[0]) for part in parse_template(field.template) if isinstance(part, tuple)
        )
    if field.expr is not None:
        yield from _names(field.expr)
    if field.when is not None:
        yield from _condition(field.when)
    yield from _steps(field.steps)


def _steps(steps: list[StepSpec]) -> Iterator[str]:
    for step in steps:
        if step.when is not None:
            yield from _condition(step.when)
            yield from _steps(step.then or [])
            yield from _steps(step.else_ or [])


def _condition(cond: Condition) -> Iterator[str]:
    for leaf in leaves(cond):
        if leaf.field is not None:
            yield _top(leaf.field)


def _top(path: str) -> str:
    first = parse_path(path)[0]
    return first if isinstance(first, str) else str(first)


def _names(source: str) -> Iterator[str]:
    called = set()
    tree = ast.parse(source.strip(), mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(id(node.func))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called and node.id not in _CONSTANTS:
            yield node.id
