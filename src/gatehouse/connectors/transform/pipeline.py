"""A compiled mapping: one record in, an output, a rejection with reasons, or filtered out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import count as count_from
from typing import Any, Literal, NamedTuple

from gatehouse.connectors.protocol import Batch, RecordError
from gatehouse.connectors.transform.errors import Invalid, TransformFailed

# A field program reads the record and writes its target into (data, attributes).
Program = Callable[[Mapping[str, Any], dict[str, Any], dict[str, Any]], None]
Finish = Callable[[Mapping[str, Any], dict[str, Any], dict[str, Any]], "Output"]
Strategy = Literal["skip", "fail"]


class Output(NamedTuple):
    """A transformed record: its kind, its id in the source, and the data for the store.

    identity: `data` fits IdentityData; group: GroupData; resource: ResourceData ({"type",
    "key", "attributes"}); membership: {"group", "member", "member_kind"}, the two ids being
    the source's external ids (and `external_id` None unless the mapping gives one).
    """

    kind: str
    external_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that did not transform, and every reason (no values: they may be restricted)."""

    errors: list[RecordError]
    external_id: str | None = None  # the record's id when it has one, to name it in reports

    @property
    def reason(self) -> str:
        """Every reason in one line: `field: reason; ...`."""
        return "; ".join(f"{e.field}: {e.reason}" if e.field else e.reason for e in self.errors)


@dataclass(frozen=True, slots=True)
class Filtered:
    """A record the mapping's filter left out."""


FILTERED = Filtered()
Result = Output | Rejected | Filtered


@dataclass
class TransformedBatch:
    """One source batch after the pipeline: outputs, rejected rows, and the checkpoint after it."""

    outputs: list[Output]
    errors: list[RecordError]
    filtered: int = 0
    state: dict[str, Any] | None = None
    rows: int = field(default=0)  # records read from the source, malformed ones included


class Pipeline:
    """The compiled form of one stream's mapping; `apply` is safe to share across threads."""

    def __init__(
        self,
        kind: str,
        programs: list[tuple[str, Program]],
        finish: Finish,
        keep: Callable[[Mapping[str, Any]], bool] | None,
        on_error: Strategy,
        ident: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> None:
        self.kind = kind
        self.on_error: Strategy = on_error
        self._programs = [program for _, program in programs]
        self._targets = {program: target for target, program in programs}
        self._finish = finish
        self._keep = keep
        self._ident = ident
        self.reads: frozenset[str] = frozenset()  # the top-level source fields the mapping reads

    def apply(self, record: Mapping[str, Any], row: int | None = None) -> Result:
        """Transform one record; `row` numbers it in the errors."""
        keep = self._keep
        if keep is not None and not keep(record):
            return FILTERED
        data: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        errors: list[RecordError] | None = None
        for program in self._programs:
            try:
                program(record, data, attributes)
            except Invalid as exc:
                if errors is None:
                    errors = []
                errors.append(RecordError(row, str(exc), self._targets[program]))
        try:
            output = self._finish(record, data, attributes)
        except Invalid as exc:
            # A required target that already failed is not reported twice.
            if errors is None or all(e.field != exc.target for e in errors):
                errors = [*(errors or ()), RecordError(row, str(exc))]
        if errors is not None:
            return Rejected(errors, self._reference(record))
        return output

    def _reference(self, record: Mapping[str, Any]) -> str | None:
        if self._ident is None:
            return None
        try:
            return self._ident(record)
        except Invalid:
            return None

    def run(
        self,
        records: Iterable[Mapping[str, Any]],
        rows: Iterable[int] | None = None,
        on_error: Strategy | None = None,
    ) -> TransformedBatch:
        """Transform records (numbered by `rows`, else 1, 2, ...) under the error strategy."""
        strategy = on_error or self.on_error
        outputs: list[Output] = []
        errors: list[RecordError] = []
        filtered = 0
        apply = self.apply
        count = 0
        for record, row in zip(records, rows if rows is not None else count_from(1), strict=False):
            count += 1
            result = apply(record, row)
            if type(result) is Output:
                outputs.append(result)
            elif type(result) is Rejected:
                if strategy == "fail":
                    raise TransformFailed(result.errors)
                errors.extend(result.errors)
            else:
                filtered += 1
        return TransformedBatch(outputs, errors, filtered, rows=count)

    def batches(
        self, batches: Iterable[Batch], on_error: Strategy | None = None
    ) -> Iterator[TransformedBatch]:
        """Transform a source's batches, keeping each checkpoint and the source's own errors."""
        strategy = on_error or self.on_error
        seen = 0
        for batch in batches:
            rows = batch.rows
            if rows is None:
                rows = list(range(seen + 1, seen + 1 + len(batch.records)))
            if batch.errors and strategy == "fail":
                # Fail at the first bad row in file order: a record before it may fail first.
                first = batch.errors[0].row or 0
                before = [(r, n) for r, n in zip(batch.records, rows, strict=True) if n < first]
                self.run([r for r, _ in before], [n for _, n in before], strategy)
                raise TransformFailed(batch.errors[:1])
            done = self.run(batch.records, rows, strategy)
            if batch.errors:
                done.errors = sorted([*batch.errors, *done.errors], key=lambda e: e.row or 0)
            done.state = batch.state
            done.rows += len(batch.errors)
            seen += done.rows
            yield done
