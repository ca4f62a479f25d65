"""Lean HTTP/1.1 keep-alive load generator: one process, raw asyncio streams, one JSON line out.

Usage: python bench/_load.py --port P --path /health [--requests N] [--connections C] ...
The bearer token, if any, is read from the BENCH_TOKEN environment variable (not argv).
`--method`, `--body` and `--expect` make POST/PATCH loads; `{n}` in the path or body becomes a
per-request counter (modulo `--cycle` when given) and `{v}` the next line of `--values`, so
each request can differ.
Exits non-zero, naming the status and body, on the first response that is not the expected one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

HEAD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024
# The stream buffer: large enough that multi-megabyte bodies (bundles) are not read through a
# pause/resume of the socket every 128 KiB, which made the client, not the server, the limit.
BUFFER = 4 * 1024 * 1024
# What of a body is kept for an error message; the rest is read and dropped.
KEPT = 500


class LoadError(Exception):
    """A response was not a 200 with a Content-Length body on a kept-alive connection."""


def build_request(
    host: str,
    port: int,
    path: str,
    token: str,
    method: str = "GET",
    body: bytes = b"",
    extra: tuple[str, ...] = (),
) -> bytes:
    """The raw bytes of one request."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "User-Agent: gatehouse-bench",
        "Accept: application/json",
        "Connection: keep-alive",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.extend(extra)
    if body:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Requests:
    """Builds each request, substituting a counter for `{n}` when the template asks for one."""

    def __init__(self, args: argparse.Namespace, token: str) -> None:
        self.args = args
        self.token = token
        self.values = Path(args.values).read_text().split() if args.values else [""]
        self.templated = any("{n}" in t or "{v}" in t for t in (args.path, args.body))
        self.fixed = self._build(0)
        self.counter = 0

    def _build(self, n: int) -> bytes:
        a = self.args
        value = self.values[n % len(self.values)]
        path = a.path.replace("{n}", str(n)).replace("{v}", value)
        body = a.body.replace("{n}", str(n)).replace("{v}", value).encode()
        return build_request(a.host, a.port, path, self.token, a.method, body, tuple(a.header))

    def next(self) -> bytes:
        """The next request to send."""
        if not self.templated:
            return self.fixed
        self.counter += 1
        n = self.counter % self.args.cycle if self.args.cycle else self.counter
        return self._build(n)


def content_length(head: bytes) -> int:
    """The Content-Length of a response head (chunked or closing responses are refused)."""
    length = -1
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" or (
            name == b"connection" and value.strip().lower() == b"close"
        ):
            raise LoadError(f"unsupported response framing: {line.decode('latin-1')}")
    if length < 0 and head.split(b" ", 2)[1:2] in ([b"304"], [b"204"]):
        return 0  # no body by definition
    if length < 0:
        raise LoadError("response without Content-Length")
    return length


async def read_body(reader: asyncio.StreamReader, length: int) -> bytes:
    """Read a body of `length` bytes as it arrives, keeping only its start."""
    kept = b""
    remaining = length
    while remaining:
        chunk = await reader.read(min(remaining, BUFFER))
        if not chunk:
            raise asyncio.IncompleteReadError(kept, length)
        if len(kept) < KEPT:
            kept += chunk[: KEPT - len(kept)]
        remaining -= len(chunk)
    return kept


async def one_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, expect: bytes
) -> None:
    """Send one request and read its whole response, failing unless it has the expected status."""
    writer.write(request)
    head = await reader.readuntil(HEAD_END)
    if len(head) > MAX_HEAD:
        raise LoadError(f"response head over {MAX_HEAD} bytes")
    body = await read_body(reader, content_length(head))
    status_line = head[: head.index(b"\r\n")]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or parts[1] != expect:
        raise LoadError(f"{status_line.decode('latin-1')}: {body.decode('utf-8', 'replace')}")


class Phase:
    """A shared request budget, bounded by count and by a deadline."""

    def __init__(self, total: int, deadline: float) -> None:
        self.remaining = total
        self.deadline = deadline
        self.latencies_ns: list[int] = []

    def take(self) -> bool:
        """Claim one request from the budget; False once it is spent or time is up."""
        if self.remaining <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.remaining -= 1
        return True


class Run:
    """The warm-up and measured phases shared by every connection."""

    def __init__(self, warmup: Phase, measured: Phase, connections: int) -> None:
        self.warmup = warmup
        self.measured = measured
        self.waiting = connections
        self.warm = asyncio.Event()
        self.go = asyncio.Event()


async def drive(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, requests: Requests, phase: Phase
) -> None:
    """Send requests on one connection until the phase's budget is spent."""
    clock = time.perf_counter_ns
    record = phase.latencies_ns.append
    expect = str(requests.args.expect).encode()
    while phase.take():
        request = requests.next()
        started = clock()
        await one_request(reader, writer, request, expect)
        record(clock() - started)


async def worker(host: str, port: int, request: Requests, run: Run) -> None:
    """One keep-alive connection running through the warm-up, then the measured phase."""
    reader, writer = await asyncio.open_connection(host, port, limit=BUFFER)
    try:
        await drive(reader, writer, request, run.warmup)
        run.waiting -= 1
        if run.waiting == 0:
            run.warm.set()
        await run.go.wait()
        await drive(reader, writer, request, run.measured)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def percentile(sorted_ns: list[int], q: float) -> float:
    """The q-th percentile (nearest rank) of sorted nanosecond samples, in milliseconds."""
    if not sorted_ns:
        return float("nan")
    rank = max(0, min(len(sorted_ns) - 1, math.ceil(q / 100 * len(sorted_ns)) - 1))
    return sorted_ns[rank] / 1e6


async def measure(args: argparse.Namespace) -> dict[str, object]:
    """Run the warm-up and the measured phase and summarise the measured one."""
    token = os.environ.get("BENCH_TOKEN", "")
    request = Requests(args, token)
    run = Run(
        Phase(args.warmup, time.perf_counter() + args.time_cap),
        Phase(args.requests, float("inf")),
        args.connections,
    )
    tasks = [
        asyncio.create_task(worker(args.host, args.port, request, run))
        for _ in range(args.connections)
    ]
    # Every connection finishes its warm-up requests before the clock starts.
    warm = asyncio.create_task(run.warm.wait())
    await asyncio.wait([warm, *tasks], return_when=asyncio.FIRST_COMPLETED)
    warm.cancel()
    if any(t.done() for t in tasks):
        await asyncio.gather(*tasks)  # a connection failed: raise its error
    started = time.perf_counter()
    run.measured.deadline = started + args.time_cap
    run.go.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    samples = sorted(run.measured.latencies_ns)
    done = len(samples)
    return {
        "path": args.path,
        "requests": done,
        "planned": args.requests,
        "capped": done < args.requests,
        "connections": args.connections,
        "elapsed_s": round(elapsed, 3),
        "rps": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(samples, 50), 3),
        "p99_ms": round(percentile(samples, 99), 3),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--warmup", type=int, default=2_000)
    p.add_argument("--time-cap", type=float, default=60.0, help="Seconds per phase, at most.")
    p.add_argument("--method", default="GET")
    p.add_argument("--body", default="", help="JSON body; {n} becomes the request counter.")
    p.add_argument("--expect", type=int, default=200, help="The status every response must have.")
    p.add_argument("--cycle", type=int, default=0, help="Counter modulo this (0: unbounded).")
    p.add_argument("--values", default="", help="File of values; {v} takes them in turn.")
    p.add_argument("--header", action="append", default=[], help="`Name: value`, repeatable.")
    return p.parse_args(argv)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (it comes with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str]) -> int:
    """Entry point: print one JSON summary line, or an error on stderr and exit 1."""
    args = parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print("load generator: loopback hosts only", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            result = runner.run(measure(args))
    except (LoadError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        print(f"load generator: {args.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
