"""fleet: decision events ingested per second through POST /opa/logs, against raw parsing.

On one `gatehouse serve` process (the client in this process, on the other CPU), in one run:
- the baseline: `gzip.decompress` + `orjson.loads` of the very bodies the server will get,
  in a loop in this process (the floor any receiver pays before it stores anything);
- ingestion: the same bodies POSTed to /opa/logs over keep-alive connections, as OPA's
  decision-log plugin sends them (gzip JSON arrays, `BENCH_FLEET_EVENTS` events each), every
  event new, so each upload is decoded, checked, redacted, stored and audited; on a SQLite
  store (the metric), then on the local PostgreSQL (`BENCH_FLEET_STORES`).
Reports events per second for each and their ratio.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import socket
import sys
import time
from typing import Any

import httpx
import orjson
from _common import (
    BenchError,
    Server,
    admin,
    bench_env,
    cli,
    cpu_sets,
    log,
    main,
    pinned,
    temp_home,
)

BENCH = "fleet"
EVENTS = int(os.environ.get("BENCH_FLEET_EVENTS", "200"))
UPLOADS = int(os.environ.get("BENCH_FLEET_UPLOADS", "150"))
CONNECTIONS = int(os.environ.get("BENCH_FLEET_CONNECTIONS", "4"))
WARMUP = 5
STORES = os.environ.get("BENCH_FLEET_STORES", "sqlite,postgres").split(",")
PG_DB = "gatehouse_bench_fleet"
NEVER_REFUSED = "100000000"


def event(n: int) -> dict[str, Any]:
    """A decision event shaped like an Envoy authorization check logged by OPA."""
    return {
        "labels": {"id": f"opa-{n % 8}", "version": "1.4.2", "app": "orders"},
        "decision_id": f"bench-{n:09d}",
        "bundles": {"gatehouse": {"revision": "42-9f86d081"}},
        "path": "envoy/authz/allow",
        "input": {
            "attributes": {
                "request": {
                    "http": {
                        "method": "GET",
                        "path": f"/orders/{n}",
                        "host": "orders.internal",
                        "headers": {"x-request-id": f"r{n}", "authorization": "Bearer abc"},
                    }
                },
                "source": {"address": {"socketAddress": {"address": "10.0.0.7"}}},
            },
            "user": {"name": f"user{n % 1000}", "groups": ["staff", "orders"]},
        },
        "result": {"allowed": n % 7 != 0, "headers": {"x-ext-auth": "ok"}},
        "requested_by": "10.0.0.7:51234",
        "timestamp": f"2026-01-02T03:{n // 60 % 60:02d}:{n % 60:02d}.123456789Z",
        "metrics": {"timer_rego_query_eval_ns": 41_000, "timer_server_handler_ns": 180_000},
        "req_id": n,
    }


def bodies(count: int, first: int) -> list[bytes]:
    """`count` gzip uploads of EVENTS events each, decision ids from `first` on."""
    return [
        gzip.compress(orjson.dumps([event(first + u * EVENTS + i) for i in range(EVENTS)]))
        for u in range(count)
    ]


def baseline(uploads: list[bytes]) -> float:
    """Events per second of gzip.decompress + orjson.loads alone over the same bodies."""
    rounds = 3
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        parsed = sum(len(orjson.loads(gzip.decompress(b))) for b in uploads)
        best = max(best, parsed / (time.perf_counter() - started))
    return best


async def post_all(port: int, token: str, uploads: list[bytes]) -> tuple[float, list[float]]:
    """POST every upload over CONNECTIONS connections; elapsed seconds and per-upload latency."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in uploads:
        queue.put_nowait(body)
    latencies: list[float] = []
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                sent = time.perf_counter()
                resp = await client.post("/opa/logs", content=body, headers=headers)
                if resp.status_code != 200 or resp.json()["stored"] != EVENTS:
                    raise BenchError(f"upload refused: {resp.status_code} {resp.text[:300]}")
                latencies.append(time.perf_counter() - sent)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        return time.perf_counter() - started, latencies


def ingest(store: str, database_url: str, warm: list[bytes], measured: list[bytes]) -> Any:
    """One server on `database_url`: seconds to post every measured upload, and latencies."""
    server_cpus, client_cpus = cpu_sets()
    with temp_home() as home:
        settings = {"rate_limit_enterprise": NEVER_REFUSED, "log_level": "WARNING"}
        if database_url:
            settings["database_url"] = database_url
        env = bench_env(home, **settings)
        cli(["db", "upgrade"], env, home)
        cli(["tenant", "create", "bench", "--tier", "enterprise"], env, home)
        made = cli(
            ["token", "create", "--tenant", "bench", "--scope", "fleet:report", "--json"],
            env,
            home,
        )
        token = str(json.loads(made)["token"])
        with Server(env, home, server_cpus) as server, pinned(client_cpus):
            asyncio.run(post_all(server.port, token, warm))
            elapsed, latencies = asyncio.run(post_all(server.port, token, measured))
    rate = len(measured) * EVENTS / elapsed
    log(f"{store}: {rate:,.0f} events/s")
    latencies.sort()
    return rate, elapsed, latencies


def reachable() -> bool:
    """Whether the local PostgreSQL answers."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def run() -> dict[str, Any]:
    """The raw parse floor, then the same uploads through a server on each store."""
    server_cpus, client_cpus = cpu_sets()
    warm, measured = bodies(WARMUP, 0), bodies(UPLOADS, WARMUP * EVENTS)
    size = sum(len(b) for b in measured) / len(measured)
    log(f"{UPLOADS} uploads of {EVENTS} events, {size / 1024:.1f} KiB gzip each")
    with pinned(client_cpus):
        floor = baseline(measured)
    log(f"baseline: {floor:,.0f} events/s (gzip + orjson)")
    rate, elapsed, latencies = ingest("sqlite", "", warm, measured)
    result: dict[str, Any] = {
        "bench": BENCH,
        "metric": round(rate, 1),
        "unit": "decision events/s through POST /opa/logs (SQLite store)",
        "baseline_events_per_s": round(floor, 1),
        "ingest_vs_baseline": round(rate / floor, 4),
        "uploads_per_s": round(UPLOADS / elapsed, 1),
        "events_per_upload": EVENTS,
        "upload_kib": round(size / 1024, 1),
        "upload_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "upload_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "connections": CONNECTIONS,
        "pinned": server_cpus is not None,
    }
    if "postgres" in STORES and not reachable():
        log("postgres: no server on 127.0.0.1:5432, skipped")
    elif "postgres" in STORES:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        asyncio.run(admin(f'CREATE DATABASE "{PG_DB}"'))
        try:
            url = f"postgresql+asyncpg://postgres@127.0.0.1/{PG_DB}"
            pg_rate, _, pg_latencies = ingest("postgres", url, warm, measured)
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        result["postgres_events_per_s"] = round(pg_rate, 1)
        result["postgres_vs_baseline"] = round(pg_rate / floor, 4)
        result["postgres_upload_p99_ms"] = round(
            pg_latencies[int(len(pg_latencies) * 0.99) - 1] * 1000, 1
        )
    return result


if __name__ == "__main__":
    sys.exit(main(BENCH, run))
