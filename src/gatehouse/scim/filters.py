"""SCIM filters (RFC 7644 §3.4.2.2) parsed by scim2-filter-parser into a small typed tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from gatehouse.kit.problems import Problem

MAX_LENGTH = 4096
MAX_DEPTH = 32  # nested parentheses and value paths
MAX_TERMS = 100  # comparisons and presence tests joined by and / or
OPENING = frozenset({"LPAREN", "LBRACKET"})
CLOSING = frozenset({"RPAREN", "RBRACKET"})
OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
CORE_URNS = frozenset(
    {
        "urn:ietf:params:scim:schemas:core:2.0:user",
        "urn:ietf:params:scim:schemas:core:2.0:group",
    }
)


class Quoted(str):
    """A comparison value that was a JSON string (not a number, boolean or null)."""

    __slots__ = ()


Value = str | None  # a Quoted string, an unquoted number/true/false, or None for null


@dataclass(frozen=True, slots=True)
class Attr:
    """An attribute path: optional schema URN, attribute, optional sub-attribute (lower case)."""

    name: str
    sub: str | None = None
    urn: str | None = None

    @property
    def key(self) -> str:
        """The lower-cased dotted name, URN-qualified for extension attributes."""
        dotted = f"{self.name}.{self.sub}" if self.sub else self.name
        return f"{self.urn}:{dotted}" if self.urn else dotted


@dataclass(frozen=True, slots=True)
class Compare:
    """`attr op value`."""

    attr: Attr
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class Present:
    """`attr pr`."""

    attr: Attr


@dataclass(frozen=True, slots=True)
class Logical:
    """`left and right` / `left or right`."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    """`not (inner)`."""

    inner: Node


@dataclass(frozen=True, slots=True)
class ValuePath:
    """`attr[inner]`: one value of a multi-valued attribute satisfies the inner filter."""

    attr: Attr
    inner: Node


Node = Compare | Present | Logical | Not | ValuePath


def invalid(detail: str) -> Problem:
    """The 400 invalidFilter for a filter we cannot run."""
    return Problem(400, detail, scim_type="invalidFilter")


def parse(text: str) -> Node:
    """Parse a filter, or 400 invalidFilter saying why not."""
    if len(text) > MAX_LENGTH:
        raise invalid(f"Filters are limited to {MAX_LENGTH} characters.")
    try:
        tokens = _tokens(text)
    except ValueError as exc:  # the lexer: an illegal character
        raise invalid(f"The filter {text!r} is not valid: {exc}.") from None
    _bounded(tokens)
    try:
        tree = SCIMParser().parse(iter(tokens))
    except Exception as exc:  # the parser: SCIMParserError and friends
        near = getattr(exc, "args", [""])[0].partition("value=")[2].partition(",")[0]
        where = f" near {near}" if near else " (it ends too early)"
        raise invalid(f"The filter {text!r} is not valid SCIM filter syntax{where}.") from None
    if tree is None:
        raise invalid("The filter is empty.")
    return _node(tree)


def _bounded(tokens: list[Any]) -> None:
    """400 invalidFilter for nesting deeper than MAX_DEPTH or more than MAX_TERMS terms."""
    depth = deepest = 0
    terms = 1
    for token in tokens:
        if token.type in OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif token.type in CLOSING:
            depth -= 1
        elif token.type in ("AND", "OR"):
            terms += 1
    if deepest > MAX_DEPTH:
        raise invalid(f"Filters may nest parentheses and brackets at most {MAX_DEPTH} deep.")
    if terms > MAX_TERMS:
        raise invalid(f"Filters may join at most {MAX_TERMS} terms with and / or.")


def _tokens(text: str) -> list[Any]:
    """Lex, marking quoted values and joining the one-digit NUMBER tokens the lexer emits."""
    tokens: list[Any] = []
    for token in SCIMLexer().tokenize(text):
        if token.type == "COMP_VALUE":
            token.value = Quoted(token.value)
        elif token.type == "NUMBER" and tokens:
            last = tokens[-1]
            if last.type == "NUMBER" and last.index + len(last.value) == token.index:
                last.value += token.value
                continue
        tokens.append(token)
    return tokens


def _attr(path: Any) -> Attr:
    if not isinstance(path.attr_name, str):
        raise invalid("A value path cannot be nested in another.")
    urn = path.uri.lower() if path.uri else None
    sub = path.sub_attr.value.lower() if path.sub_attr is not None else None
    return Attr(path.attr_name.lower(), sub, None if urn in CORE_URNS else urn)


def _operands(node: Any) -> tuple[list[Any], list[str]]:
    """An unparenthesised and/or chain as operands and operators (the parser nests it flat)."""
    plain = isinstance(node, ast.Filter) and not node.negated and node.namespace is None
    if plain and isinstance(node.expr, ast.LogExpr):
        left, left_ops = _operands(node.expr.expr1)
        right, right_ops = _operands(node.expr.expr2)
        return left + right, [*left_ops, node.expr.op.lower(), *right_ops]
    return [node], []


def _chain(operands: list[Node], ops: list[str]) -> Node:
    """Rebuild a chain with `and` binding tighter than `or` (RFC 7644 §3.4.2.2)."""
    groups: list[Node] = [operands[0]]
    for op, operand in zip(ops, operands[1:], strict=True):
        if op == "and":
            groups[-1] = Logical("and", groups[-1], operand)
        else:
            groups.append(operand)
    result = groups[0]
    for group in groups[1:]:
        result = Logical("or", result, group)
    return result


def _node(node: Any) -> Node:
    if isinstance(node, ast.Filter):
        if node.namespace is not None:
            return ValuePath(_attr(node.namespace), _node(node.expr))
        if node.negated:
            return Not(_node(node.expr))
        if isinstance(node.expr, ast.LogExpr):
            operands, ops = _operands(node)
            return _chain([_node(x) for x in operands], ops)
        return _node(node.expr)
    if isinstance(node, ast.AttrExpr):
        return _expression(node)
    raise invalid(f"Unexpected filter element {type(node).__name__}.")


def _expression(node: Any) -> Node:
    op = str(node.value).lower()
    path = node.attr_path
    if isinstance(path.attr_name, ast.Filter):
        # emails[type eq "work"].value co "x": one value matches both conditions.
        scope = path.attr_name
        outer = _attr(scope.namespace)
        sub = Attr(outer.sub or "value")
        leaf: Node = Present(sub) if op == "pr" else _compare(sub, op, node.comp_value)
        return ValuePath(Attr(outer.name, None, outer.urn), Logical("and", _node(scope.expr), leaf))
    attr = _attr(path)
    if op == "pr":
        return Present(attr)
    return _compare(attr, op, node.comp_value)


def _compare(attr: Attr, op: str, comp: Any) -> Compare:
    if op not in OPERATORS:
        raise invalid(f"The operator {op!r} is not supported.")
    raw = comp.value if comp is not None else None
    value: Value = None if raw == "null" and not isinstance(raw, Quoted) else raw
    return Compare(attr, op, value)
