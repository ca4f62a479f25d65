"""Evaluation in child processes (the default), so that a policy that loops is stopped at the limit.

regorus holds the GIL while it evaluates and cannot be interrupted: in process, a policy that
loops stops the whole server until it returns. So each worker is a child process (one engine copy
each; `GATEHOUSE_DECISIONS_PROCESSES`, 2 by default): the parent waits at most the time limit,
then kills the child, answers `eval_cancel_error`, and starts a replacement at once, which loads
the generations the old one held before it takes the next evaluation. The price is a pipe round
trip per decision and a copy of each tenant's engines per child (docs/decisions-engine.md).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import orjson
import structlog

from gatehouse.decisions.cache.keys import encoded
from gatehouse.decisions.embedded.child import serve
from gatehouse.decisions.embedded.sources import Sources
from gatehouse.decisions.embedded.worker import Outcome
from gatehouse.decisions.types import EvaluationError

SPAWN = multiprocessing.get_context("spawn")  # never fork a process with threads and a loop
GRACE_SECONDS = 0.05  # the pipe's round trip on top of the time limit
LOAD_SECONDS = 600.0  # building an engine (a large document) has no evaluation time limit
START_SECONDS = 120.0  # a child that has not answered its first message by then is replaced
log = structlog.get_logger("gatehouse.decisions")


class ProcessWorker:
    """A child process and the thread that talks to it (a drop-in for a thread Worker)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self.busy = 0  # evaluations queued or running (changed on the loop's thread)
        self.replacing = 0  # a replacement child being started (changed on the worker's)
        self.child: BaseProcess | None = None
        self.conn: Connection | None = None
        # What the child holds: tenant → (generation, document key).
        self.loaded: dict[str, tuple[int, str]] = {}
        # The newest generation of each tenant given to this worker (a replacement loads them).
        self.recent: dict[str, Sources] = {}
        self.restarts = 0

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        """Run `fn(*args)` on this worker's thread."""
        return self.pool.submit(fn, *args)

    def start(self) -> Future[Any]:
        """Start the child now (on the worker's thread), so the first decision finds it warm."""
        return self.pool.submit(self._ready)

    def _ready(self) -> Connection:
        """The pipe to a live child (started, and answering, when needed)."""
        conn = self.conn
        if conn is not None and self.child is not None and self.child.is_alive():
            return conn
        self._kill()
        mine, theirs = SPAWN.Pipe()
        child = SPAWN.Process(target=serve, args=(theirs,), name=self.name, daemon=True)
        child.start()
        theirs.close()
        self.child, self.conn, self.loaded = child, mine, {}
        mine.send(("ping",))
        if not mine.poll(START_SECONDS) or mine.recv() != "pong":
            self._kill()
            raise OSError("the evaluator process did not start")
        return mine

    def _kill(self) -> None:
        if self.child is not None:
            self.child.kill()
            self.child.join(10)
        if self.conn is not None:
            self.conn.close()
        self.child, self.conn, self.loaded = None, None, {}

    def _load(self, src: Sources) -> tuple[Connection, str | None]:
        """The pipe to a child holding the generation (started and loaded when needed)."""
        conn = self._ready()
        have = self.loaded.get(src.tenant)
        if have is not None and have[0] >= src.number:
            return conn, None
        same = have is not None and have[1] == src.data_key
        conn.send(("load", replace(src, data_json=b"") if same else src))
        if not conn.poll(LOAD_SECONDS):
            self._kill()
            return conn, f"building the engine took longer than {LOAD_SECONDS:.0f} s"
        error: str | None = conn.recv()
        if error is None:
            self.loaded[src.tenant] = (src.number, src.data_key)
            newest = self.recent.get(src.tenant)
            if newest is None or newest.number <= src.number:
                self.recent[src.tenant] = src
        return conn, error

    def warm(self, src: Sources) -> str | None:
        """Build the generation in the child now; the error if any."""
        try:
            return self._load(src)[1]
        except (OSError, EOFError) as exc:
            self._kill()
            return f"the evaluator process failed: {exc}"

    def _replace(self) -> None:
        """A new child holding what the killed one held (so no tenant waits for a load)."""
        try:
            self._ready()
            for src in list(self.recent.values()):
                self._load(src)
        except (OSError, EOFError) as exc:
            self._kill()  # the next evaluation starts one again
            log.warning("could not replace an evaluator process", error=str(exc))

    def evaluate(
        self, src: Sources, rule: str | None, query: str, input: Any, limit_ns: int
    ) -> Outcome | EvaluationError:
        """The child's answer, or `eval_cancel_error` (and a replaced child) past the limit."""
        try:
            raw = encoded(input if input is not None else {})
        except orjson.JSONEncodeError as exc:
            return EvaluationError("invalid_parameter", f"the input is not valid JSON: {exc}", 400)
        try:
            conn, error = self._load(src)
            if error is not None:
                return EvaluationError("internal_error", error)
            conn.send(("eval", src.tenant, rule, query, raw, limit_ns))
            if not conn.poll(limit_ns / 1e9 + GRACE_SECONDS):
                self._kill()
                self.restarts += 1
                self.replacing += 1  # counts as work queued here until it is done
                self.pool.submit(self._replace).add_done_callback(self._replaced)
                log.warning("evaluation stopped at the time limit", tenant=src.tenant)
                return EvaluationError(
                    "eval_cancel_error",
                    f"evaluation exceeded the time limit of {limit_ns // 1_000_000} ms and was "
                    "stopped; the policy needs to be faster",
                )
            reply = conn.recv()
        except (OSError, EOFError) as exc:
            self._kill()
            return EvaluationError("internal_error", f"the evaluator process failed: {exc}")
        if reply[0] == "error":
            return EvaluationError(reply[1], reply[2], reply[3])
        return Outcome(reply[1], reply[2], reply[3])

    def _replaced(self, _: Future[None]) -> None:
        self.replacing -= 1

    def stop(self) -> None:
        """Stop the child (after queued work) and the thread."""
        self.pool.submit(self._kill)
        self.pool.shutdown(wait=False, cancel_futures=False)
