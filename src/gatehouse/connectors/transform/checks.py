"""Conditions (filters, `when`) and validators, compiled to plain functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatehouse.connectors.transform import normalize as n
from gatehouse.connectors.transform.errors import Invalid
from gatehouse.connectors.transform.paths import getter, parse_path
from gatehouse.connectors.transform.spec import Bounds, Condition, ValidatorSpec, compile_pattern

# A test on the record (for `field` conditions) or on the current value (inside steps).
Test = Callable[[Mapping[str, Any] | None, Any], bool]
Check = Callable[[Any], None]


def _key(value: Any) -> Any:
    """Compare scalars by their text, so CSV's "1" equals JSON's 1 and "true" equals true."""
    if n.is_scalar(value):
        return n.text(value)
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def leaves(cond: Condition) -> list[Condition]:
    """The tests under a condition, through all/any/not."""
    subs = [*(cond.all_ or ()), *(cond.any_ or ()), *((cond.not_,) if cond.not_ else ())]
    return [leaf for sub in subs for leaf in leaves(sub)] if subs else [cond]


def reads_record(cond: Condition) -> bool:
    """Whether any test of the condition reads a field of the record."""
    return any(leaf.field is not None for leaf in leaves(cond))


def condition(cond: Condition, *, record_only: bool) -> Test:
    """The test; with `record_only` every leaf names a field (checked when the spec compiles)."""
    if cond.all_ is not None:
        parts = [condition(c, record_only=record_only) for c in cond.all_]
        return lambda record, value: all(p(record, value) for p in parts)
    if cond.any_ is not None:
        parts = [condition(c, record_only=record_only) for c in cond.any_]
        return lambda record, value: any(p(record, value) for p in parts)
    if cond.not_ is not None:
        inner = condition(cond.not_, record_only=record_only)
        return lambda record, value: not inner(record, value)
    test = _leaf(cond)
    if cond.field is None:
        return lambda record, value: test(value)
    read = getter(parse_path(cond.field))
    return lambda record, value: test(read(record) if record is not None else None)


def _leaf(cond: Condition) -> Callable[[Any], bool]:
    fields = cond.model_fields_set
    if "equals" in fields:
        expected = _key(cond.equals)
        return lambda value: _key(value) == expected
    if cond.in_ is not None:
        choices = [_key(c) for c in cond.in_]
        hashable = {c for c in choices if isinstance(c, str) or c is None}
        if len(hashable) == len(choices):
            return lambda value: _key(value) in hashable
        return lambda value: _key(value) in choices
    if cond.matches is not None:
        pattern = compile_pattern(cond.matches)
        return lambda value: (
            value is not None
            and not isinstance(value, dict | list)
            and pattern.search(n.text(value)) is not None
        )
    wanted = bool(cond.present)
    return lambda value: (not _empty(value)) is wanted


def validator(spec: ValidatorSpec) -> Check:
    """The check; it raises Invalid with what is wrong (never the value)."""
    check = spec.check
    if check == "required":

        def required(value: Any) -> None:
            if _empty(value):
                raise Invalid("is required but missing or empty")

        return required
    if check == "email":
        return _each(lambda v: _email_check(v))
    if spec.regex is not None:
        pattern = compile_pattern(spec.regex)
        return _each(lambda v: _must(pattern.fullmatch(n.text(v)), "does not match the pattern"))
    if spec.one_of is not None:
        allowed = [_key(c) for c in spec.one_of]
        names = ", ".join(map(str, spec.one_of[:10])) + (", ..." if len(spec.one_of) > 10 else "")
        return _each(lambda v: _must(_key(v) in allowed, f"must be one of: {names}"))
    if spec.length is not None:
        return _length(spec.length)
    assert spec.range is not None
    return _each(_range(spec.range))


def _must(ok: Any, message: str) -> None:
    if not ok:
        raise Invalid(message)


def _email_check(value: Any) -> None:
    try:
        n.email(value)
    except Invalid:
        raise Invalid("is not a valid e-mail address") from None


def _each(check: Check) -> Check:
    """Apply a check to a value or each item of a list; missing values pass."""

    def run(value: Any) -> None:
        if value is None:
            return
        if isinstance(value, list):
            for item in value:
                if item is not None:
                    check(item)
        else:
            check(value)

    return run


def _length(bounds: Bounds) -> Check:
    low, high = bounds.min, bounds.max

    def run(value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str | list | dict):
            value = n.text(value)
        size = len(value)
        if low is not None and size < low:
            raise Invalid(f"is shorter than {low:g}")
        if high is not None and size > high:
            raise Invalid(f"is longer than {high:g}")

    return run


def _range(bounds: Bounds) -> Check:
    low, high = bounds.min, bounds.max

    def run(value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid("expected a number (add an `integer` step to convert text)")
        if low is not None and value < low:
            raise Invalid(f"is less than {low:g}")
        if high is not None and value > high:
            raise Invalid(f"is more than {high:g}")

    return run
