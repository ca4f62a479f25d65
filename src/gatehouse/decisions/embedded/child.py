"""The evaluator child process: builds generations and evaluates them until its pipe closes.

Kept lean (no web framework, no logging setup): a child is spawned at start and after every
overrun, and what it imports is what its start costs.
"""

from __future__ import annotations

from dataclasses import replace
from multiprocessing.connection import Connection

from gatehouse.decisions.embedded.sources import Sources
from gatehouse.decisions.embedded.worker import Worker
from gatehouse.decisions.types import EvaluationError


def serve(conn: Connection) -> None:
    """Answer `load` and `eval` messages on `conn` until it closes."""
    worker = Worker("gatehouse-rego-child", inline=True)
    sources: dict[str, Sources] = {}
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "ping":
            conn.send("pong")
        elif message[0] == "load":
            src: Sources = message[1]
            held = sources.get(src.tenant)
            if not src.data_json and held is not None:  # same document: not shipped again
                src = replace(src, data_json=held.data_json)
            error = worker.warm(src)
            if error is None:
                sources[src.tenant] = src
            conn.send(error)
        else:
            _, tenant, rule, query, raw, limit_ns = message
            out = worker.evaluate_json(sources[tenant], rule, query, raw, limit_ns)
            if isinstance(out, EvaluationError):
                conn.send(("error", out.code, out.message, out.status))
            else:
                conn.send(("ok", out.defined, out.result, out.eval_ns))
