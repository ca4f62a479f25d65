"""Compile a mapping spec once into closures: no per-record lookups of the spec."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

from pydantic import ValidationError

from gatehouse.connectors.transform import normalize as n
from gatehouse.connectors.transform.checks import condition, leaves, reads_record, validator
from gatehouse.connectors.transform.dates import to_date, to_datetime
from gatehouse.connectors.transform.errors import Invalid, MappingError, SpecProblem
from gatehouse.connectors.transform.expressions import expression, template
from gatehouse.connectors.transform.paths import getter, parse_path
from gatehouse.connectors.transform.pipeline import Output, Pipeline, Program
from gatehouse.connectors.transform.references import read_fields
from gatehouse.connectors.transform.spec import (
    FieldSpec,
    LookupOptions,
    LookupTable,
    StepSpec,
    TransformSpec,
    compile_pattern,
)
from gatehouse.connectors.transform.targets import (
    attribute_path,
    column,
    external_id,
    target_problems,
)

Source = Callable[[Mapping[str, Any]], Any]
Attrs = dict[str, Any]
Finish = Callable[[Mapping[str, Any], dict[str, Any], Attrs], Output]
_output = partial(tuple.__new__, Output)  # a NamedTuple without its Python-level __new__
MISSING_ID = "external_id is missing: the record has no value for it"
RecordStep = Callable[[Any, Mapping[str, Any]], Any]
ABSENT = object()


def compile_mapping(spec: Mapping[str, Any]) -> Pipeline:
    """The pipeline for a spec; raises MappingError listing every problem with its JSON path."""
    problems = target_problems(spec)
    try:
        model = TransformSpec.model_validate(spec)
    except ValidationError as exc:
        problems = [*problems, *_problems(exc)]
        raise MappingError(_unique(problems)) from None
    problems += _reference_problems(model)
    if problems:
        raise MappingError(_unique(problems))
    return _pipeline(model)


def _pipeline(spec: TransformSpec) -> Pipeline:
    programs = [(target, _program(spec, target, field)) for target, field in spec.fields.items()]
    keep = None
    if spec.filter is not None:
        test = condition(spec.filter, record_only=True)
        keep = lambda record: test(record, None)  # noqa: E731
    finish = _finish(spec)
    pipeline = Pipeline(spec.kind, programs, finish, keep, spec.on_error, _identifier(spec))
    pipeline.reads = read_fields(spec)
    return pipeline


def _identifier(spec: TransformSpec) -> Source:
    """The record's external id as trimmed text, or None."""
    if spec.external_id is None:
        return lambda record: None
    read, transform, with_record = _parts(spec, spec.external_id, None)
    if transform is None and with_record is None:

        def plain(record: Mapping[str, Any]) -> str | None:
            value = read(record)
            if type(value) is str and 0 < len(value) <= 256 and not value[0].isspace():
                return value.rstrip() or None
            return external_id(value)

        return plain
    return lambda record: external_id(_produce(read, transform, with_record, record))


def _finish(spec: TransformSpec) -> Finish:
    """What completes a record of the spec's kind: its id, required targets, its data's shape."""
    ident, kind = _identifier(spec), spec.kind
    has_attributes = any(attribute_path(kind, t) for t in spec.fields)
    required = "user_name" if kind == "identity" else "display_name"
    if kind == "membership":
        return _membership(ident)
    if kind == "resource":
        resource_type = spec.type

        def resource(record: Mapping[str, Any], data: dict[str, Any], attrs: Attrs) -> Output:
            key = ident(record)
            if key is None:
                raise Invalid(MISSING_ID)
            return Output(kind, key, {"type": resource_type, "key": key, "attributes": attrs})

        return resource

    def finish(record: Mapping[str, Any], data: dict[str, Any], attrs: Attrs) -> Output:
        key = ident(record)
        if key is None:
            raise Invalid(MISSING_ID)
        if not data.get(required):
            raise Invalid(f"{required} is missing or empty", required)
        if "active" in data and data["active"] is None:
            del data["active"]  # unknown: the store keeps its default
        data["external_id"] = key
        if has_attributes:
            data["attributes"] = attrs
        return _output((kind, key, data))

    return finish


def _membership(ident: Source) -> Finish:
    def membership(record: Mapping[str, Any], data: dict[str, Any], attrs: Attrs) -> Output:
        for target in ("group", "member"):
            if not data.get(target):
                raise Invalid(
                    f"a membership needs both group and member; {target} is empty", target
                )
        pair = {
            "group": data["group"],
            "member": data["member"],
            "member_kind": data.get("member_kind") or "identity",
        }
        return Output("membership", ident(record), pair)

    return membership


def _program(spec: TransformSpec, target: str, field: FieldSpec) -> Program:
    """One closure doing a target's whole work, with no call or test it does not need."""
    read, transform, with_record = _parts(spec, field, column(spec.kind, target))
    path = attribute_path(spec.kind, target)
    if path is not None and len(path) > 1:
        nested = _store(path)
        program: Program = lambda record, data, attrs: nested(  # noqa: E731
            data, attrs, _produce(read, transform, with_record, record)
        )
    elif with_record is not None or transform is None:
        slot, attribute = (path[0], True) if path is not None else (target, False)

        def program(record: Mapping[str, Any], data: dict[str, Any], attrs: dict[str, Any]) -> None:
            (attrs if attribute else data)[slot] = _produce(read, transform, with_record, record)

    elif path is not None:
        key = path[0]

        def program(record: Mapping[str, Any], data: dict[str, Any], attrs: dict[str, Any]) -> None:
            attrs[key] = transform(read(record))

    else:

        def program(record: Mapping[str, Any], data: dict[str, Any], attrs: dict[str, Any]) -> None:
            data[target] = transform(read(record))

    if field.when is None:
        return program
    when, then = condition(field.when, record_only=True), program

    def conditional(record: Mapping[str, Any], data: dict[str, Any], attrs: dict[str, Any]) -> None:
        if when(record, None):
            then(record, data, attrs)

    return conditional


def _produce(
    read: Source,
    transform: n.Step | None,
    with_record: RecordStep | None,
    record: Mapping[str, Any],
) -> Any:
    value = read(record)
    if with_record is not None:
        return with_record(value, record)
    return value if transform is None else transform(value)


def _parts(
    spec: TransformSpec, field: FieldSpec, fit: n.Step | None
) -> tuple[Source, n.Step | None, RecordStep | None]:
    """How to read the value, and one function for its steps, validators and column fit."""
    read = _source(field)
    compiled = [_step(spec, step) for step in field.steps]
    tail = [_passing(validator(v)) for v in field.validate_] + ([fit] if fit is not None else [])
    plain = [s for s in compiled if not isinstance(s, _RecordSteps)]
    if len(plain) == len(compiled):
        return read, n.chain(plain + tail), None
    first = _RecordSteps.of(compiled).run
    rest = n.chain(tail)
    if rest is None:
        return read, None, first
    return read, None, lambda value, record: rest(first(value, record))


def _passing(check: Callable[[Any], None]) -> n.Step:
    """A validator as a step: it checks the value and passes it on."""

    def step(value: Any) -> Any:
        check(value)
        return value

    return step


def _source(field: FieldSpec) -> Source:
    """Where a field's value comes from: a path, a template, an expression or a constant."""
    if field.source == "from_":
        return getter(parse_path(str(field.from_)))
    if field.source == "template":
        return template(str(field.template))
    if field.source == "expr":
        return expression(str(field.expr))
    constant = field.value
    return lambda record: constant


def _store(path: tuple[str, ...]) -> Callable[[dict[str, Any], dict[str, Any], Any], None]:
    """Write a nested attribute, making the objects on the way."""
    *parents, last = path

    def to_nested(data: dict[str, Any], attrs: dict[str, Any], value: Any) -> None:
        node = attrs
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return to_nested


class _RecordSteps:
    """Steps of which some `when` reads the record's fields: each gets (value, record)."""

    def __init__(self, steps: list[RecordStep]) -> None:
        self.steps = steps

    @classmethod
    def of(cls, compiled: list[n.Step | _RecordSteps]) -> _RecordSteps:
        """Value-only steps ignore the record."""
        return cls([s.run if isinstance(s, _RecordSteps) else _ignore_record(s) for s in compiled])

    def run(self, value: Any, record: Mapping[str, Any]) -> Any:
        """Apply the steps in order."""
        for step in self.steps:
            value = step(value, record)
        return value


def _ignore_record(step: n.Step) -> RecordStep:
    return lambda value, record: step(value)


def _steps(spec: TransformSpec, steps: list[StepSpec]) -> n.Step | _RecordSteps | None:
    """One function for a list of steps; a _RecordSteps when some step reads the record."""
    compiled = [_step(spec, step) for step in steps]
    if any(isinstance(s, _RecordSteps) for s in compiled):
        return _RecordSteps.of(compiled)
    return n.chain([s for s in compiled if not isinstance(s, _RecordSteps)])


def _step(spec: TransformSpec, step: StepSpec) -> n.Step | _RecordSteps:
    """The function one step performs."""
    op = step.op
    simple: dict[str, n.Step] = {
        "trim": n.trim,
        "lower": n.lower,
        "upper": n.upper,
        "email": n.email,
        "boolean": n.boolean,
        "integer": n.integer,
        "null_if_empty": n.null_if_empty,
    }
    if op in simple:
        return simple[op]
    if step.phone is not None:
        return n.phone(step.phone.region)
    if step.date is not None:
        return to_date(step.date.formats, step.date.timezone)
    if step.datetime is not None:
        return to_datetime(step.datetime.formats, step.datetime.timezone)
    if step.split is not None:
        return n.split(step.split.separator, keep_empty=step.split.keep_empty)
    if step.join is not None:
        return n.join(step.join.separator)
    if step.replace is not None:
        pattern, replacement = compile_pattern(step.replace.pattern), step.replace.with_
        return n.per_item(lambda value: pattern.sub(replacement, n.text(value)))
    if step.lookup is not None:
        return _lookup(spec, step.lookup)
    if op == "default":
        return n.default(step.default)
    return _when(spec, step)


def _when(spec: TransformSpec, step: StepSpec) -> n.Step | _RecordSteps:
    assert step.when is not None
    test = condition(step.when, record_only=False)
    then = _steps(spec, step.then or []) or _same
    other = _steps(spec, step.else_ or []) or _same
    if not (reads_record(step.when) or _RecordSteps in (type(then), type(other))):
        then_v, other_v = cast(n.Step, then), cast(n.Step, other)
        return lambda value: then_v(value) if test(None, value) else other_v(value)
    then_r, other_r = _RecordSteps.of([then]).run, _RecordSteps.of([other]).run

    def branch(value: Any, record: Mapping[str, Any]) -> Any:
        return then_r(value, record) if test(record, value) else other_r(value, record)

    return _RecordSteps([branch])


def _same(value: Any) -> Any:
    return value


def _lookup(spec: TransformSpec, options: LookupOptions) -> n.Step:
    source: LookupTable | LookupOptions = (
        spec.lookups[options.use] if options.use is not None else options
    )
    fold = source.case_insensitive
    table = {(k.casefold() if fold else k): v for k, v in (source.table or {}).items()}
    has_default = "default" in source.model_fields_set
    fallback = source.default

    def look(value: Any) -> Any:
        key = n.text(value)
        found = table.get(key.casefold() if fold else key, ABSENT)
        if found is ABSENT:
            if has_default:
                return fallback
            raise Invalid("has no entry in the lookup table (add one, or give it a default)")
        return found

    return n.per_item(look)


def _reference_problems(spec: TransformSpec) -> list[SpecProblem]:
    """Lookups used but not defined; record conditions that name no field."""
    problems = []
    record_conditions = [("filter", spec.filter)] + [
        (f"fields.{t}.when", f.when) for t, f in spec.fields.items()
    ]
    for path, cond in record_conditions:
        if cond is not None and any(leaf.field is None for leaf in leaves(cond)):
            problems.append(SpecProblem(path, "every test here needs `field`: the path it reads"))
    for target, field in spec.fields.items():
        for index, step in _walk(field.steps, f"fields.{target}.steps"):
            if step.lookup is not None and step.lookup.use not in (None, *spec.lookups):
                known = ", ".join(spec.lookups) or "none defined"
                problems.append(
                    SpecProblem(f"{index}.lookup", f"no lookup named {step.lookup.use!r} ({known})")
                )
    return problems


def _walk(steps: list[StepSpec], path: str) -> list[tuple[str, StepSpec]]:
    found = []
    for i, step in enumerate(steps):
        found.append((f"{path}[{i}]", step))
        found += _walk(step.then or [], f"{path}[{i}].then")
        found += _walk(step.else_ or [], f"{path}[{i}].else")
    return found


def _problems(exc: ValidationError) -> list[SpecProblem]:
    found = []
    for error in exc.errors():
        loc = error["loc"]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}" + _known_keys(loc)
        elif error["type"] in ("model_type", "dict_type"):
            message = "expected an object" + (" or a name" if _in_list(loc) else "")
        found.append(SpecProblem(path, message))
    return found


def _in_list(loc: tuple[int | str, ...]) -> bool:
    return len(loc) >= 2 and isinstance(loc[-1], int) and loc[-2] in ("steps", "validate", "then")


def _known_keys(loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 3 and isinstance(loc[-2], int) and loc[-3] in ("steps", "then", "else"):
        return "; steps are: " + ", ".join(StepSpec.OPS)
    if len(loc) >= 3 and isinstance(loc[-2], int) and loc[-3] == "validate":
        return "; validators are: required, email, regex, one_of, length, range"
    return ""


def _unique(problems: list[SpecProblem]) -> list[SpecProblem]:
    return list(dict.fromkeys(problems))
