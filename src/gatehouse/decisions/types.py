"""What every decision engine answers, and the one interface they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class EvaluationError(Exception):
    """A decision could not be made (compile error, time limit, bad input); `code` is OPA's."""

    def __init__(self, code: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# Not frozen: one is made per decision, and a frozen dataclass's __init__ costs five times more.
@dataclass(slots=True)
class Decision:
    """One evaluated rule: its value (when defined) and which path produced it."""

    defined: bool
    result: Any = None
    # "embedded", "remote", "fallback:deny", "fallback:basic" or "fallback:embedded".
    engine: str = "embedded"
    # The remote endpoint that answered, when one did.
    endpoint: str | None = None
    # Policy and data revisions the answer was computed on (cache keys, decision log).
    policy_revision: str = ""
    data_revision: str = ""
    # Nanoseconds the engine spent evaluating (OPA's timer_rego_query_eval_ns), when measured.
    eval_ns: int | None = None
    # Answered from the decision cache (`engine` is the one that first produced the answer).
    cached: bool = False


class DecisionEngine(Protocol):
    """Evaluates `data.<path>` of one tenant against an input."""

    async def evaluate(self, tenant_id: str, path: str, input: Any) -> Decision:
        """The value of the rule at `path` (slash or dot separated) for `input`."""
        ...
