"""The mapping spec a connection stores per stream under `transform`, as Pydantic models.

Steps, validators and conditions are objects with one operation key (`{"phone": {...}}`),
or a bare name for those without options (`"trim"`), so error paths read like the JSON.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

import phonenumbers
import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gatehouse.connectors.transform.dates import EPOCH_FORMATS, zone
from gatehouse.connectors.transform.expressions import check_expression, parse_template
from gatehouse.connectors.transform.paths import parse_path

MAX_PATTERN = 1000
Kind = Literal["identity", "group", "membership", "resource"]


RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False  # a bad pattern is reported to the user, not logged to stderr


def compile_pattern(pattern: str) -> Any:
    """The RE2 program for a pattern `check_pattern` accepted."""
    return re2.compile(pattern, RE2_OPTIONS)


def check_pattern(pattern: str) -> str:
    """A regular expression RE2 accepts (linear time: no look-around, no back-references)."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"a pattern is at most {MAX_PATTERN} characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(
            f"not supported ({reason}); patterns run on RE2, which has no look-around or "
            "back-references so that no input can make them slow"
        ) from None
    return pattern


def _one_of(model: BaseModel, names: tuple[str, ...], what: str) -> list[str]:
    """The names among `names` set on `model`; raises unless exactly one is."""
    chosen = [n for n in names if n in model.model_fields_set]
    aliases = [(model.__class__.model_fields[n].alias or n) for n in names]
    if not chosen:
        raise ValueError(f"{what} needs one of: {', '.join(aliases)}")
    if len(chosen) > 1:
        found = [(model.__class__.model_fields[n].alias or n) for n in chosen]
        raise ValueError(f"{what} takes one of {', '.join(aliases)}, not {' and '.join(found)}")
    return chosen


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Options(Strict):
    """Options of a step; `true` means the defaults, a scalar fills the `shorthand` field."""

    shorthand: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data: Any) -> Any:
        if data is True or data is None:
            return {}
        if not isinstance(data, dict) and cls.shorthand is not None:
            return {cls.shorthand: data}
        return data


class PhoneOptions(Options):
    """E.164 phone numbers; `region` reads numbers written without a country code."""

    shorthand = "region"
    region: str | None = None

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}; use a two-letter code like GB or US")
        return value.upper() if value else None


class DateOptions(Options):
    """Input `formats` (strptime patterns, `unix`, `unix_ms`; ISO 8601 always) and a zone."""

    shorthand = "formats"
    formats: list[str] = Field(default_factory=list, max_length=20)
    timezone: str | None = None

    @field_validator("formats", mode="before")
    @classmethod
    def _one_format(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("formats")
    @classmethod
    def _real_formats(cls, value: list[str]) -> list[str]:
        for fmt in value:
            if fmt not in EPOCH_FORMATS and "%" not in fmt:
                raise ValueError(f"{fmt!r} is not a date format (use %Y-%m-%d style or unix)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value


class SplitOptions(Options):
    """Text into a list at `separator`."""

    shorthand = "separator"
    separator: str = Field(",", min_length=1)
    keep_empty: bool = False


class JoinOptions(Options):
    """A list into text joined by `separator`."""

    shorthand = "separator"
    separator: str = ", "


class ReplaceOptions(Options):
    """Replace every match of `pattern` with `with` (`\\1` for groups)."""

    pattern: str
    with_: str = Field("", alias="with")

    _pattern = field_validator("pattern")(classmethod(lambda cls, v: check_pattern(v)))


class LookupTable(Strict):
    """Codes to values, with a `default` for codes not in the table (else the value is an error)."""

    table: dict[str, Any] = Field(max_length=100_000)
    default: Any = None
    case_insensitive: bool = False


class LookupOptions(Options):
    """An inline table, or `use` one of the spec's `lookups` by name."""

    shorthand = "use"
    use: str | None = None
    table: dict[str, Any] | None = Field(None, max_length=100_000)
    default: Any = None
    case_insensitive: bool = False

    @model_validator(mode="after")
    def _table_or_name(self) -> LookupOptions:
        if (self.use is None) == (self.table is None):
            raise ValueError("a lookup needs either `table` or `use` (the name of a lookup)")
        if self.use is not None and self.model_fields_set - {"use"}:
            raise ValueError("with `use`, set default and case_insensitive in the named lookup")
        return self


class Condition(Strict):
    """A test on a field (or, inside a step, on the current value when `field` is left out)."""

    field: str | None = None
    equals: Any = None
    in_: list[Any] | None = Field(None, alias="in", max_length=10_000)
    matches: str | None = None
    present: bool | None = None
    all_: list[Condition] | None = Field(None, alias="all", min_length=1)
    any_: list[Condition] | None = Field(None, alias="any", min_length=1)
    not_: Condition | None = Field(None, alias="not")

    TESTS: ClassVar[tuple[str, ...]] = ("equals", "in_", "matches", "present")
    GROUPS: ClassVar[tuple[str, ...]] = ("all_", "any_", "not_")

    _field = field_validator("field")(classmethod(lambda cls, v: v and _path(v)))
    _matches = field_validator("matches")(classmethod(lambda cls, v: v and check_pattern(v)))

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        chosen = _one_of(self, self.TESTS + self.GROUPS, "a condition")
        if chosen[0] in self.GROUPS and self.field is not None:
            raise ValueError("`field` goes on the conditions inside all/any/not, not beside them")
        return self


class StepSpec(Strict):
    """One step: exactly one operation, or `when` with `then` and/or `else` steps."""

    trim: Literal[True] | None = None
    lower: Literal[True] | None = None
    upper: Literal[True] | None = None
    email: Literal[True] | None = None
    boolean: Literal[True] | None = None
    integer: Literal[True] | None = None
    null_if_empty: Literal[True] | None = None
    phone: PhoneOptions | None = None
    date: DateOptions | None = None
    datetime: DateOptions | None = None
    split: SplitOptions | None = None
    join: JoinOptions | None = None
    replace: ReplaceOptions | None = None
    lookup: LookupOptions | None = None
    default: Any = None
    when: Condition | None = None
    then: list[StepSpec] | None = None
    else_: list[StepSpec] | None = Field(None, alias="else")

    OPS: ClassVar[tuple[str, ...]] = (
        "trim", "lower", "upper", "email", "boolean", "integer", "null_if_empty", "phone", "date",
        "datetime", "split", "join", "replace", "lookup", "default", "when",
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data not in cls.OPS or data in ("default", "when", "replace", "lookup"):
                raise ValueError(f"unknown step {data!r}; steps are: {', '.join(cls.OPS)}")
            return {data: True}
        return data

    @model_validator(mode="after")
    def _one_op(self) -> StepSpec:
        op = _one_of(self, self.OPS, "a step")[0]
        branches = {"then", "else_"} & self.model_fields_set
        if op == "when" and not branches:
            raise ValueError("`when` needs `then` and/or `else` steps")
        if op != "when" and branches:
            raise ValueError("`then` and `else` go with `when`")
        return self

    @property
    def op(self) -> str:
        """The operation this step performs."""
        return next(n for n in self.OPS if n in self.model_fields_set)


class Bounds(Strict):
    """An inclusive `min` and/or `max`."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` is larger than `max`")
        return self


class ValidatorSpec(Strict):
    """One check on the final value; all but `required` accept a missing value."""

    required: Literal[True] | None = None
    email: Literal[True] | None = None
    regex: str | None = None
    one_of: list[Any] | None = Field(None, min_length=1, max_length=10_000)
    length: Bounds | None = None
    range: Bounds | None = None

    CHECKS: ClassVar[tuple[str, ...]] = ("required", "email", "regex", "one_of", "length", "range")

    _regex = field_validator("regex")(classmethod(lambda cls, v: v and check_pattern(v)))

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data not in ("required", "email"):
                raise ValueError(f"unknown validator {data!r}; use required, email or an object")
            return {data: True}
        return data

    @model_validator(mode="after")
    def _one_check(self) -> ValidatorSpec:
        _one_of(self, self.CHECKS, "a validator")
        return self

    @property
    def check(self) -> str:
        """The check this validator performs."""
        return next(n for n in self.CHECKS if n in self.model_fields_set)


class FieldSpec(Strict):
    """Where a target's value comes from, how it is normalized and checked."""

    from_: str | None = Field(None, alias="from")
    template: str | None = None
    expr: str | None = None
    value: Any = None
    when: Condition | None = None
    steps: list[StepSpec] = Field(default_factory=list, max_length=50)
    validate_: list[ValidatorSpec] = Field(default_factory=list, alias="validate", max_length=20)

    SOURCES: ClassVar[tuple[str, ...]] = ("from_", "template", "expr", "value")

    _from = field_validator("from_")(classmethod(lambda cls, v: v and _path(v)))

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            parse_template(value)
        return value

    @field_validator("expr")
    @classmethod
    def _expr(cls, value: str | None) -> str | None:
        if value is not None:
            check_expression(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _bare_path(cls, data: Any) -> Any:
        return {"from": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        _one_of(self, self.SOURCES, "a field")
        return self

    @property
    def source(self) -> str:
        """Which of from/template/expr/value gives the value."""
        return next(n for n in self.SOURCES if n in self.model_fields_set)


class TransformSpec(Strict):
    """How the records of one stream become identities, groups, memberships or resources."""

    kind: Kind
    type: str | None = Field(None, min_length=1, max_length=64)
    external_id: FieldSpec | None = None
    filter: Condition | None = None
    fields: dict[str, FieldSpec] = Field(min_length=1, max_length=500)
    lookups: dict[str, LookupTable] = Field(default_factory=dict, max_length=100)
    on_error: Literal["skip", "fail"] = "skip"


def _path(value: str) -> str:
    try:
        parse_path(value)
    except ValueError as exc:
        raise ValueError(f"not a field path: {exc}") from None
    return value
