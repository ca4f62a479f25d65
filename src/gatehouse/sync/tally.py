"""What a run counts: records by kind and outcome, error samples, row-level problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_SAMPLES = 20
# Counters of changes to the store; the others (read, errors, filtered, ...) say what was seen.
WRITES = ("created", "updated", "linked", "deleted", "unlinked", "removed", "managers_set")
Counts = dict[str, dict[str, int]]


def settled(counts: Counts, written: bool | None) -> tuple[Counts, Counts | None]:
    """Counts as written, and what a run that wrote nothing would have written (else None)."""
    if written is not False:
        return counts, None
    done = {kind: {k: 0 if k in WRITES else v for k, v in c.items()} for kind, c in counts.items()}
    would = {kind: {k: v for k, v in c.items() if k in WRITES} for kind, c in counts.items()}
    return done, would


@dataclass
class Tally:
    """Counters and error samples of a run, by kind; rows read and row-level problems by stream."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # records read per stream, bad ones too
    totals: dict[str, int] = field(default_factory=dict)  # records to read, where sources tell
    report: list[dict[str, Any]] = field(default_factory=list)  # the first `report_limit`
    reported: int = 0  # every row-level problem, kept in `report` or not
    report_limit: int = 0

    def failed(self) -> int:
        """Records rejected so far, of every kind."""
        return sum(counts.get("errors", 0) for counts in self.counts.values())

    def problem(self, stream: str, row: int | None, field: str | None, reason: str) -> None:
        """A row-level problem, without any value from the record."""
        self.reported += 1
        if len(self.report) < self.report_limit:
            self.report.append({"row": row, "stream": stream, "field": field, "reason": reason})

    def add(self, kind: str, **values: int) -> None:
        """Add to a kind's counters."""
        bucket = self.counts.setdefault(kind, {})
        for name, value in values.items():
            if value:
                bucket[name] = bucket.get(name, 0) + value

    def sample(self, stream: str, ref: str, reason: str) -> None:
        """Keep the first errors for the run record."""
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append({"stream": stream, "record": ref, "error": reason[:500]})
