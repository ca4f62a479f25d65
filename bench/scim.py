"""scim: the SCIM server against 100,000 users and 5,000 groups, with /health as the baseline.

Measures, on one server process (load from a second process):
- generating and loading 100,000 users and 5,000 groups with `gatehouse demo generate` (<= 30 s);
- `GET /scim/v2/Users?filter=userName eq "..."` over varied names (>= 1,500 req/s, p99 <= 20 ms);
- `POST /scim/v2/Users` with new users (>= 400 creates/s sustained);
- one `PATCH /scim/v2/Groups/{id}` adding 1,000 members (<= 1 s);
- `/health` on the same server in the same run, as the baseline.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from _common import BenchError, Server, bench_env, cli, cpu_sets, emit, load, log, temp_home

BENCH = "scim"
USERS = int(os.environ.get("BENCH_SCIM_USERS", "100000"))
GROUPS = int(os.environ.get("BENCH_SCIM_GROUPS", "5000"))
FILTER_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20000"))
CREATES = int(os.environ.get("BENCH_SCIM_CREATES", "4000"))
PATCH_MEMBERS = 1000
NEVER_REFUSED = "100000000"
TARGETS = {
    "load_s": 30.0,
    "filter_rps": 1500.0,
    "filter_p99_ms": 20.0,
    "create_rps": 400.0,
    "patch_1000_s": 1.0,
}
USER_BODY = (
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
    '"userName":"bench.user{n}@example.com","name":{"givenName":"Bench","familyName":"User{n}"},'
    '"emails":[{"value":"bench.user{n}@example.com","type":"work","primary":true}],"active":true}'
)


def sample(db_path: Path, query: str, limit: int) -> list[str]:
    """Values straight from the store (read-only), to address real records."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute(query, (limit,))]


def patch_members(port: int, token: str, group_id: str, member_ids: list[str]) -> float:
    """Seconds one PATCH adding the members takes, end to end."""
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": m} for m in member_ids]}
        ],
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/scim/v2/Groups/{group_id}",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        response.read()
        if response.status not in (200, 204):
            raise BenchError(f"PATCH answered {response.status}")
    return time.perf_counter() - started


def run() -> dict[str, Any]:
    """Load the store, serve, and measure each SCIM operation against /health."""
    server_cpus, load_cpus = cpu_sets()
    with temp_home() as home:
        env = bench_env(home, rate_limit_enterprise=NEVER_REFUSED)
        cli(["db", "upgrade"], env, home)
        cli(["tenant", "create", "bench", "--tier", "enterprise"], env, home)
        started = time.perf_counter()
        cli(
            [
                "demo",
                "generate",
                "--users",
                str(USERS),
                "--groups",
                str(GROUPS),
                "--seed",
                "7",
                "--tenant",
                "bench",
            ],
            env,
            home,
        )
        load_s = round(time.perf_counter() - started, 2)
        log(f"generated and loaded {USERS} users, {GROUPS} groups in {load_s}s")
        created = cli(
            ["token", "create", "--tenant", "bench", "--scope", "scim:write", "--json"], env, home
        )
        token = str(json.loads(created)["token"])
        db_path = home / "gatehouse.db"
        names = sample(db_path, "SELECT user_name FROM identities ORDER BY random() LIMIT ?", 5000)
        values = home / "usernames.txt"
        values.write_text("\n".join(urllib.parse.quote(f'"{n}"', safe="") for n in names))
        members = sample(db_path, "SELECT id FROM identities LIMIT ?", PATCH_MEMBERS)
        group_id = sample(db_path, "SELECT id FROM groups ORDER BY display_name DESC LIMIT ?", 1)[0]
        common = {"token": token, "connections": 16, "time_cap": 60.0, "cpus": load_cpus}
        with Server(env, home, server_cpus) as server:
            health = load(
                server.port,
                "/health",
                token="",
                requests=FILTER_REQUESTS,
                connections=16,
                cpus=load_cpus,
            )
            log(f"/health: {health['rps']} req/s")
            filtered = load(
                server.port,
                "/scim/v2/Users?filter=userName%20eq%20{v}",
                requests=FILTER_REQUESTS,
                warmup=1000,
                values=values,
                **common,
            )
            log(f"filter: {filtered['rps']} req/s, p99 {filtered['p99_ms']} ms")
            creates = load(
                server.port,
                "/scim/v2/Users",
                requests=CREATES,
                warmup=200,
                method="POST",
                body=USER_BODY,
                expect=201,
                **common,
            )
            log(f"create: {creates['rps']} req/s, p99 {creates['p99_ms']} ms")
            patch_s = round(patch_members(server.port, token, group_id, members), 3)
            log(f"PATCH adding {len(members)} members: {patch_s}s")
    figures = {
        "load_s": load_s,
        "filter_rps": filtered["rps"],
        "filter_p99_ms": filtered["p99_ms"],
        "create_rps": creates["rps"],
        "patch_1000_s": patch_s,
    }
    passed = (
        load_s <= TARGETS["load_s"]
        and filtered["rps"] >= TARGETS["filter_rps"]
        and filtered["p99_ms"] <= TARGETS["filter_p99_ms"]
        and creates["rps"] >= TARGETS["create_rps"]
        and patch_s <= TARGETS["patch_1000_s"]
    )
    return {
        "bench": BENCH,
        "metric": filtered["rps"],
        "unit": "filter req/s",
        "pass": passed,
        **figures,
        "filter_p50_ms": filtered["p50_ms"],
        "create_p99_ms": creates["p99_ms"],
        "health_rps": health["rps"],
        "filter_vs_health": round(filtered["rps"] / health["rps"], 3),
        "users": USERS,
        "groups": GROUPS,
        "targets": TARGETS,
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
