"""Errors of the transformation pipeline: a bad spec, a bad value, a run that must stop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gatehouse.connectors.protocol import RecordError


class Invalid(ValueError):
    """A value a step or validator cannot accept; the message says why, never the value."""

    def __init__(self, message: str, target: str | None = None) -> None:
        super().__init__(message)
        self.target = target  # a required target found missing when the record is completed


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a mapping spec, at a JSON path such as `fields.email.steps[0]`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(top level)'}: {self.message}"


class MappingError(ValueError):
    """A mapping spec that does not compile; `problems` lists every mistake with its path."""

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"the mapping has {count} problem{'s' * (count != 1)}:\n{lines}")

    def as_errors(self) -> list[dict[str, str]]:
        """The problems in the `errors` shape of Gatehouse's problem+json bodies."""
        return [{"field": p.path, "message": p.message} for p in self.problems]


class TransformFailed(Exception):
    """A run with the `fail` strategy met a record it could not transform."""

    def __init__(self, errors: Sequence[RecordError]) -> None:
        self.errors = list(errors)
        first = "; ".join(str(e) for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(
            f"stopped at a record that does not transform: {first}{more}. Fix the source or "
            "the mapping, or run with on_error=skip to import the rest and report these."
        )
