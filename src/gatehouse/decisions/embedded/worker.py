"""One evaluation thread: it owns its regorus engines (they are bound to the thread that made them).

regorus's Python engine is `unsendable` (usable only on the thread that created it) and holds the
GIL while it evaluates. Each worker therefore builds its own engine per tenant and generation:
the store's document is loaded once per content change (the slow part), policies and tenant-local
data are added to a cheap `clone()` of that data-only base.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import regorus

from gatehouse.decisions.cache.keys import encoded
from gatehouse.decisions.embedded.sources import Sources
from gatehouse.decisions.types import EvaluationError

CONTAINERS = (dict, list, set, frozenset)


def clean(message: str) -> str:
    """A regorus message without the Rust backtrace anyhow may append."""
    return message.split("\n\nStack backtrace:")[0].strip("\n")


def plain(value: Any) -> Any:
    """A regorus value as JSON would carry it: sets become sorted arrays, as OPA writes them."""
    kind = type(value)
    if kind is dict:
        return {k: plain(v) for k, v in value.items()}
    if kind is list:
        return [plain(v) for v in value]
    if kind is set or kind is frozenset:
        items = [plain(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    return value


@dataclass(slots=True)
class Held:
    """What a worker holds for one tenant."""

    number: int
    data_key: str
    base: regorus.Engine  # the store's document only
    engine: regorus.Engine  # base + local data + policies, at generation `number`


class Outcome(NamedTuple):
    """One evaluation: defined or not, the value, and the time it took (ns).

    A named tuple, not a frozen dataclass: it is made once per decision, and a frozen
    dataclass's `__init__` costs several times more.
    """

    defined: bool
    result: Any
    eval_ns: int


class Worker:
    """A single thread and the engines it built."""

    def __init__(self, name: str, *, inline: bool = False) -> None:
        # Inline: the caller's thread (the event loop's) owns the engines and evaluates itself.
        self.pool = None if inline else ThreadPoolExecutor(1, thread_name_prefix=name)
        self.held: dict[str, Held] = {}  # touched only on the worker's thread
        self.busy = 0  # evaluations queued or running (read on the loop to pick a worker)
        self.replacing = 0  # as ProcessWorker's (a thread is never replaced)

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        """Run `fn(*args)` on this worker's thread (at once, when inline)."""
        if self.pool is not None:
            return self.pool.submit(fn, *args)
        done: Future[Any] = Future()
        done.set_result(fn(*args))
        return done

    def engine(self, src: Sources) -> regorus.Engine:
        """This thread's engine for the generation (built or derived when it is new)."""
        held = self.held.get(src.tenant)
        if held is not None and held.number >= src.number:
            return held.engine  # this generation, or a newer one published meanwhile
        if held is None or held.data_key != src.data_key:
            base = regorus.Engine()
            base.set_rego_v0(src.rego_v0)
            base.add_data_json(src.data_json.decode())
        else:
            base = held.base
        engine: regorus.Engine = base.clone()  # type: ignore[attr-defined]  # missing in .pyi
        if src.local:
            # As JSON: regorus's Python conversion turns booleans into numbers (True → 1.0).
            engine.add_data_json(orjson.dumps(src.local).decode())
        for path, raw in src.modules:
            engine.add_policy(path, raw)
        self.held[src.tenant] = Held(src.number, src.data_key, base, engine)
        return engine

    def warm(self, src: Sources) -> str | None:
        """Build the generation's engine now (so no request waits for it); the error if any.

        Errors are returned, not raised: a traceback carried to another thread would drop this
        thread's engines there, which regorus forbids.
        """
        try:
            self.engine(src)
        except RuntimeError as exc:
            return clean(str(exc))
        return None

    def evaluate(
        self, src: Sources, rule: str | None, query: str, input: Any, limit_ns: int
    ) -> Outcome | EvaluationError:
        """`query` (or the faster `rule` when given) for `input`, timed; errors returned, not
        raised (see `warm`)."""
        try:
            # As JSON: regorus's `set_input` turns Python booleans into numbers (True → 1.0).
            raw = encoded(input if input is not None else {})
        except orjson.JSONEncodeError as exc:  # an integer over 64 bits, a lone surrogate
            return EvaluationError("invalid_parameter", f"the input is not valid JSON: {exc}", 400)
        return self.evaluate_json(src, rule, query, raw, limit_ns)

    def evaluate_json(
        self, src: Sources, rule: str | None, query: str, raw: bytes, limit_ns: int
    ) -> Outcome | EvaluationError:
        """`evaluate` for an input already serialised as JSON."""
        held = self.held.get(src.tenant)
        engine = held.engine if held is not None and held.number >= src.number else None
        try:
            if engine is None:
                engine = self.engine(src)
            start = time.perf_counter_ns()
            engine.set_input_json(raw.decode())
            value = engine.eval_rule(rule) if rule is not None else None
            defined = value is not None
            if not defined:  # undefined or null, or not a plain rule: ask as a query
                found = engine.eval_query(query)["result"]
                defined = bool(found)
                value = found[0]["expressions"][0]["value"] if defined else None
            elapsed = time.perf_counter_ns() - start
        except RuntimeError as exc:
            if rule is not None and "not a valid rule path" in str(exc):
                return self.evaluate_json(src, None, query, raw, limit_ns)
            return EvaluationError("internal_error", clean(str(exc)))
        if elapsed > limit_ns:
            return EvaluationError(
                "eval_cancel_error",
                f"evaluation exceeded the time limit of {limit_ns // 1_000_000} ms "
                f"(it took {elapsed // 1_000_000} ms); the policy needs to be faster",
            )
        if type(value) in CONTAINERS:
            value = plain(value)
        return Outcome(defined, value, elapsed)

    def stop(self) -> None:
        """Stop the thread after its queued work (engines are dropped on it)."""
        if self.pool is None:
            self.held.clear()
            return
        self.pool.submit(self.held.clear)
        self.pool.shutdown(wait=False, cancel_futures=False)
