"""AuthZEN: `POST /access/v1/evaluations` with batches of 100 over HTTP (token check, subject
enrichment, decision log, metrics on), against raw regorus and the in-process engine path on the
same evaluations, in one run; the policy and store of bench/decisions.py, in AuthZEN's shape.

Scale with BENCH_DEC_USERS (default 100,000) and BENCH_DEC_GROUPS (5,000). Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import regorus
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent))

import decisions
from _common import Server, bench_env, cpu_sets, emit, enterprise_tenant, load, log, temp_home

from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.decisions import policies
from gatehouse.decisions.embedded.engines import EmbeddedEngines
from gatehouse.distribution.hub import Distribution
from gatehouse.identity.bulk import load_org
from gatehouse.identity.synthetic import generate
from gatehouse.secrets.keyring import load_keyring

BENCH = "authzen"
BATCH = int(os.environ.get("BENCH_AUTHZEN_BATCH", "100"))
REQUESTS = int(os.environ.get("BENCH_AUTHZEN_REQUESTS", "2000"))
BODIES = 200
CONNECTIONS = 8
ROUNDS = 3
TENANT = decisions.TENANT
TARGETS = {"http_decisions_per_s": 30_000.0}
# bench/decisions.py's rules with AuthZEN's action `{name}` and resource `{properties}`.
POLICY = (
    decisions.POLICY.replace("input.action in", "input.action.name in")
    .replace("input.action ==", "input.action.name ==")
    .replace("input.resource.department", "input.resource.properties.department")
)


def evaluations(people: list[str], departments: list[str], count: int) -> list[dict[str, Any]]:
    """AuthZEN evaluations about random people, actions and departments."""
    rng = random.Random(5)
    return [
        {
            "subject": {"type": "user", "id": rng.choice(people)},
            "action": {"name": rng.choice(["read", "read", "approve", "delete"])},
            "resource": {
                "type": "record",
                "id": str(n),
                "properties": {"department": rng.choice(departments)},
            },
        }
        for n in range(count)
    ]


def raw_rate(data: bytes, asks: list[dict[str, Any]]) -> float:
    """Evaluations per second of regorus itself (set_input_json + eval_rule), best of ROUNDS."""
    engine = regorus.Engine()
    engine.add_data_json(data.decode())
    engine.add_policy("authz.rego", POLICY)
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for ask in asks:
            engine.set_input_json(orjson.dumps(ask).decode())
            engine.eval_rule("data.authz.allow")
        best = max(best, len(asks) / (time.perf_counter() - started))
    return best


async def path_rate(engines: EmbeddedEngines, asks: list[dict[str, Any]]) -> float:
    """Evaluations per second through EmbeddedEngines.evaluate, one caller, best of ROUNDS."""
    await engines.evaluate(TENANT, "authz/allow", asks[0])  # build the engine
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for ask in asks:
            await engines.evaluate(TENANT, "authz/allow", ask)
        best = max(best, len(asks) / (time.perf_counter() - started))
    return best


async def in_process(cfg: Settings) -> dict[str, Any]:
    """Load the store and the policy; time raw regorus and the engine path on AuthZEN inputs."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    db = Database(cfg.effective_database_url)
    try:
        async with db.transaction() as session:
            ring = await load_keyring(session, cfg)
        actor = Actor(TENANT, "bench")
        async with db.transaction() as session:
            await load_org(
                session,
                actor,
                generate(decisions.USERS, decisions.GROUPS, seed=7),
                source="bench-hr",
            )
            await policies.put(session, actor, "authz.rego", POLICY)
        hub = Distribution(db, cfg, lambda: ring)
        await hub.catch_up(TENANT)
        data = (await hub.snapshot(TENANT)).data_json()
        people = list(json.loads(data)["gatehouse"]["users"].values())
        ids = [p["id"] for p in people]
        departments = sorted({p.get("department") or "" for p in people[:1000]})
        asks = evaluations(ids, departments, decisions.EVALS)
        # The engine sees the subject as enriched (the store's record merged in).
        enriched = [{**a, "subject": {**a["subject"], **people[0]}} for a in asks[:1]]
        log(f"enriched input: {len(orjson.dumps(enriched[0]))} bytes")
        engines = EmbeddedEngines(db, hub, threads=0, time_limit_ms=10_000)
        try:
            raw, path = raw_rate(data, asks), await path_rate(engines, asks)
        finally:
            await engines.stop()
        log(f"raw {raw:,.0f}/s, in process {path:,.0f}/s")
        return {
            "users": decisions.USERS,
            "raw_evals_per_s": round(raw),
            "in_process_evals_per_s": round(path),
            "ids": ids,
            "departments": departments,
        }
    finally:
        await db.dispose()


def bodies(home: Path, ids: list[str], departments: list[str]) -> Path:
    """BODIES request bodies of BATCH evaluations each, one per line (the load's `{v}`)."""
    path = home / "batches.txt"
    asks = evaluations(ids, departments, BODIES * BATCH)
    lines = [
        # The load generator splits its values on whitespace: no spaces, even in strings.
        orjson.dumps({"evaluations": asks[n : n + BATCH]}).decode().replace(" ", "\\u0020")
        for n in range(0, len(asks), BATCH)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run() -> dict[str, Any]:
    """Set up, measure in process, then over HTTP against `gatehouse serve`."""
    server_cpus, load_cpus = cpu_sets()
    with temp_home() as home:
        env = bench_env(home, rate_limit_enterprise=decisions.NEVER_REFUSED)
        token = enterprise_tenant(env, home, TENANT)
        evaluator = token("decisions:evaluate")
        limit = int(decisions.NEVER_REFUSED)
        cfg = Settings(home=home, rate_limit_enterprise=limit, _env_file=None)  # type: ignore[call-arg]
        result = asyncio.run(in_process(cfg))
        values = bodies(home, result.pop("ids"), result.pop("departments"))
        with Server(env, home, server_cpus) as server:
            http = load(
                server.port,
                "/access/v1/evaluations",
                token=evaluator,
                requests=REQUESTS,
                warmup=200,
                connections=CONNECTIONS,
                cpus=load_cpus,
                method="POST",
                body="{v}",
                values=values,
            )
    rate = http["rps"] * BATCH
    log(f"POST /access/v1/evaluations: {http['rps']} requests/s = {rate:,.0f} decisions/s")
    result.update(
        {
            "batch": BATCH,
            "http_requests_per_s": http["rps"],
            "http_decisions_per_s": round(rate),
            "http_p50_ms": http.get("p50_ms"),
            "http_p99_ms": http.get("p99_ms"),
            "http_vs_in_process": round(rate / result["in_process_evals_per_s"], 3),
        }
    )
    passed = {"http_decisions_per_s": rate >= TARGETS["http_decisions_per_s"]}
    return {
        "bench": BENCH,
        "metric": result["http_decisions_per_s"],
        "unit": "decisions/s",
        **result,
        "targets": TARGETS,
        "passed": passed,
        "pass": all(passed.values()),
    }


if __name__ == "__main__":
    emit(run())
