"""api_overhead: an authenticated, rate-limited, usage-logged read versus /health.

The routes are loaded on the same server in the same run, in alternating rounds; the best round
of each counts. The metric is the overhead route's requests/s divided by /health's: the
overhead route (`GET /v1/integration/tokens/current`) does everything an API request does
(token check, scope check, the tenant's rate-limit budget -- the bench token has no budget of
its own, so only that one is counted -- usage log, access log, metrics) but no database query
of its own, so the ratio measures the API machinery. The token list route,
which adds its own database read, is reported alongside for comparison.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from _common import BenchError, Server, bench_env, cli, cpu_sets, emit, load, log, temp_home

BENCH = "api_overhead"
TARGET = 0.6
AUTH_PATH = "/v1/integration/tokens/current"
LIST_PATH = "/v1/integration/tokens"
HEALTH_PATH = "/health"
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WARMUP = 2_000
TIME_CAP = 60.0
ROUNDS = 2
NEVER_REFUSED = "100000000"


def best(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the most requests per second."""
    return max(rounds, key=lambda r: float(r["rps"]))


def run() -> dict[str, Any]:
    """Set up a tenant and token with the CLI, serve, load both routes, and summarise."""
    server_cpus, load_cpus = cpu_sets()
    with temp_home() as home:
        env = bench_env(home, rate_limit_enterprise=NEVER_REFUSED)
        cli(["db", "upgrade"], env, home)
        cli(["tenant", "create", "bench", "--tier", "enterprise"], env, home)
        created = json.loads(
            cli(
                ["token", "create", "--tenant", "bench", "--scope", "tokens:read", "--json"],
                env,
                home,
            )
        )
        token = str(created["token"])
        rounds: dict[str, list[dict[str, Any]]] = {HEALTH_PATH: [], AUTH_PATH: [], LIST_PATH: []}
        with Server(env, home, server_cpus) as server:
            log(f"server pid {server.pid} on port {server.port}")
            for number in range(1, ROUNDS + 1):
                for path in (HEALTH_PATH, AUTH_PATH, LIST_PATH):
                    result = load(
                        server.port,
                        path,
                        token="" if path == HEALTH_PATH else token,
                        requests=REQUESTS,
                        connections=CONNECTIONS,
                        warmup=WARMUP,
                        time_cap=TIME_CAP,
                        cpus=load_cpus,
                    )
                    log(
                        f"round {number} {path}: {result['rps']} req/s, "
                        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms"
                        + (" (time cap reached)" if result["capped"] else "")
                    )
                    rounds[path].append(result)
    health, auth, listing = (best(rounds[p]) for p in (HEALTH_PATH, AUTH_PATH, LIST_PATH))
    ratio = round(float(auth["rps"]) / float(health["rps"]), 3)
    return {
        "bench": BENCH,
        "metric": ratio,
        "unit": "ratio",
        "target": TARGET,
        "pass": ratio >= TARGET,
        "health_rps": health["rps"],
        "health_p50_ms": health["p50_ms"],
        "health_p99_ms": health["p99_ms"],
        "auth_rps": auth["rps"],
        "auth_p50_ms": auth["p50_ms"],
        "auth_p99_ms": auth["p99_ms"],
        "auth_route": AUTH_PATH,
        "list_rps": listing["rps"],
        "list_p50_ms": listing["p50_ms"],
        "list_p99_ms": listing["p99_ms"],
        "list_ratio": round(float(listing["rps"]) / float(health["rps"]), 3),
        "requests": REQUESTS,
        "connections": CONNECTIONS,
        "rounds": ROUNDS,
        "capped": any(r["capped"] for rs in rounds.values() for r in rs),
        "pinned": server_cpus is not None,
    }


def main() -> int:
    """Entry point: one JSON line on stdout, or the reason for failing on stderr."""
    try:
        emit(run())
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
