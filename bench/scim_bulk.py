"""scim_bulk: users created per second through SCIM /Bulk, against single POST /Users creates.

On one server process (load from a second process), in the same run:
- `POST /scim/v2/Users`, one user per request (the baseline);
- `POST /scim/v2/Bulk` with `BENCH_BULK_OPS` user creations per request (100 by default).
Reports users created per second for each and their ratio. Each Bulk operation is its own
transaction (as RFC 7644 bulk is not atomic), so the gain is the HTTP, auth and parsing saved.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from _common import Server, bench_env, cli, cpu_sets, load, log, main, temp_home

BENCH = "scim_bulk"
OPS = int(os.environ.get("BENCH_BULK_OPS", "100"))
SINGLE_CREATES = int(os.environ.get("BENCH_SCIM_CREATES", "2000"))
BULK_REQUESTS = max(2, SINGLE_CREATES // OPS)
NEVER_REFUSED = "100000000"
USER = (
    '{{"method":"POST","path":"/Users","bulkId":"u{i}","data":{{'
    '"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
    '"userName":"bulk{{n}}.{i}@example.com","name":{{"givenName":"Bulk","familyName":"U{i}"}},'
    '"emails":[{{"value":"bulk{{n}}.{i}@example.com","type":"work","primary":true}}]}}}}'
)
SINGLE = (
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
    '"userName":"single{n}@example.com","name":{"givenName":"Single","familyName":"U{n}"},'
    '"emails":[{"value":"single{n}@example.com","type":"work","primary":true}]}'
)


def bulk_body() -> str:
    """A BulkRequest template creating OPS users; `{n}` makes each request's names unique."""
    operations = ",".join(USER.format(i=i) for i in range(OPS))
    return (
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],'
        f'"Operations":[{operations}]}}'
    )


def run() -> dict[str, Any]:
    """Serve, then create users one per request and OPS per Bulk request."""
    server_cpus, load_cpus = cpu_sets()
    with temp_home() as home:
        env = bench_env(
            home,
            rate_limit_enterprise=NEVER_REFUSED,
            scim_bulk_max_operations=str(max(OPS, 1000)),
        )
        cli(["db", "upgrade"], env, home)
        cli(["tenant", "create", "bench", "--tier", "enterprise"], env, home)
        created = cli(
            ["token", "create", "--tenant", "bench", "--scope", "scim:write", "--json"], env, home
        )
        token = str(json.loads(created)["token"])
        common = {"token": token, "time_cap": 60.0, "cpus": load_cpus, "method": "POST"}
        with Server(env, home, server_cpus) as server:
            single = load(
                server.port,
                "/scim/v2/Users",
                requests=SINGLE_CREATES,
                warmup=100,
                connections=16,
                body=SINGLE,
                expect=201,
                **common,
            )
            log(f"single: {single['rps']} users/s")
            bulk = load(
                server.port,
                "/scim/v2/Bulk",
                requests=BULK_REQUESTS,
                warmup=1,
                connections=2,
                body=bulk_body(),
                expect=200,
                **common,
            )
            bulk_users = round(bulk["rps"] * OPS, 1)
            log(f"bulk: {bulk['rps']} requests/s = {bulk_users} users/s")
    return {
        "bench": BENCH,
        "metric": bulk_users,
        "unit": "users/s through /Bulk",
        "single_users_per_s": single["rps"],
        "bulk_vs_single": round(bulk_users / single["rps"], 3),
        "bulk_p99_ms": bulk["p99_ms"],
        "ops_per_request": OPS,
    }


if __name__ == "__main__":
    sys.exit(main(BENCH, run))
