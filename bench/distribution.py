"""Policy data distribution: bundle build, incremental revisions, 304s, downloads, long-poll
freshness, each against a baseline measured in the same run.

Scale with BENCH_DIST_USERS, BENCH_DIST_GROUPS, BENCH_DIST_MEMBERSHIPS (defaults: 100,000 users,
5,000 groups, 300,000 memberships). Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, bench_env, cpu_sets, emit, enterprise_tenant, load, log, temp_home

from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.distribution.bundle import full_bundle
from gatehouse.distribution.hub import Distribution
from gatehouse.identity.bulk import load_org
from gatehouse.identity.service import update_identity
from gatehouse.identity.synthetic import generate
from gatehouse.secrets.keyring import load_keyring

BENCH = "distribution"
USERS = int(os.environ.get("BENCH_DIST_USERS", "100000"))
GROUPS = int(os.environ.get("BENCH_DIST_GROUPS", "5000"))
MEMBERSHIPS = int(os.environ.get("BENCH_DIST_MEMBERSHIPS", "300000"))
CHANGES = int(os.environ.get("BENCH_DIST_CHANGES", "20"))
REQUESTS_304 = int(os.environ.get("BENCH_DIST_304_REQUESTS", "20000"))
DOWNLOADS = int(os.environ.get("BENCH_DIST_DOWNLOADS", "300"))
TENANT = "bench"
NEVER_REFUSED = "100000000"
TARGETS = {"build_s": 3.0, "incremental_ms": 100.0, "rps_304": 3000.0, "downloads_per_s": 50.0}
TARGETS["long_poll_p95_s"] = 1.0
SCIM = "application/scim+json"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def organisation() -> Any:
    """The synthetic organisation, its teams topped up to the membership count."""
    org = generate(USERS, GROUPS, seed=7)
    rng = random.Random(7)
    everyone = [p.employee_number for p in org.people]
    teams = [g for g in org.groups if g.parent]
    have = sum(len(g.members) for g in org.groups) + len(teams)
    for team in teams if teams else []:
        if have >= MEMBERSHIPS:
            break
        extra = set(rng.sample(everyone, k=min(len(everyone), 60))) - set(team.members)
        take = list(extra)[: MEMBERSHIPS - have]
        team.members.extend(take)
        have += len(take)
    return org, have


def p95(samples: list[float]) -> float:
    """The 95th percentile."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def in_process(cfg: Settings) -> dict[str, Any]:
    """Load the store, materialise, build bundles, and time incremental revisions."""
    db = Database(cfg.effective_database_url)
    try:
        async with db.transaction() as session:
            ring = await load_keyring(session, cfg)
        org, memberships = organisation()
        actor = Actor(TENANT, "bench")
        started = time.perf_counter()
        async with db.transaction() as session:
            await load_org(session, actor, org, source="bench-hr")
        log(
            f"loaded {USERS} users, {GROUPS} groups, {memberships} memberships in "
            f"{time.perf_counter() - started:.1f}s"
        )
        hub = Distribution(db, cfg, lambda: ring)
        started = time.perf_counter()
        await hub.catch_up(TENANT)
        materialise_s = time.perf_counter() - started
        log(f"materialised the document in {materialise_s:.2f}s")
        # Cold: a process that has the document only in the database.
        cold = Distribution(db, cfg, lambda: ring)
        await cold.current(TENANT)
        started = time.perf_counter()
        built = await cold.bundle(TENANT, None, False)
        cold_s = time.perf_counter() - started
        snap = await cold.snapshot(TENANT)
        level = cfg.distribution_gzip_level
        started = time.perf_counter()
        data = snap.data_json()
        full_bundle(snap, data, {}, None, level)
        build_s = time.perf_counter() - started
        doc = json.loads(data)
        started = time.perf_counter()
        gzip.compress(json.dumps(doc).encode(), compresslevel=level)
        baseline_s = time.perf_counter() - started
        tracemalloc.start()
        full_bundle(snap, snap.data_json(), {}, None, level)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        log(
            f"bundle {len(built.body):,} bytes: build {build_s:.2f}s (cold {cold_s:.2f}s), "
            f"json.dumps+gzip {baseline_s:.2f}s, peak {peak_mb:.0f} MiB"
        )
        people = list(doc["gatehouse"]["users"])
        rng = random.Random(3)
        incremental: list[float] = []
        for n in range(CHANGES):
            async with db.transaction() as session:
                await update_identity(
                    session, actor, rng.choice(people), {"title": f"Title {n}"}, source="bench"
                )
            started = time.perf_counter()
            now = await hub.catch_up(TENANT)
            incremental.append((time.perf_counter() - started) * 1000)
        assert now.revision > built.revision
        log(f"incremental p50 {statistics.median(incremental):.1f} ms, p95 {p95(incremental):.1f}")
        return {
            "users": USERS,
            "groups": GROUPS,
            "memberships": memberships,
            "bundle_bytes": len(built.body),
            "document_bytes": len(data),
            "materialise_s": round(materialise_s, 3),
            "build_s": round(build_s, 3),
            "build_cold_s": round(cold_s, 3),
            "build_baseline_s": round(baseline_s, 3),
            "build_ratio": round(build_s / baseline_s, 3),
            "build_peak_mib": round(peak_mb, 1),
            "incremental_ms": round(statistics.median(incremental), 2),
            "incremental_p95_ms": round(p95(incremental), 2),
            "incremental_baseline_ms": round(materialise_s * 1000, 1),
            "people": people[:200],
        }
    finally:
        await db.dispose()


async def long_polls(port: int, reader: str, admin: str, people: list[str]) -> dict[str, Any]:
    """SCIM PATCH → new revision seen by a long-polling client, against PATCH latency."""
    base = f"http://127.0.0.1:{port}"
    seen: list[float] = []
    patches: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        bundle = {"Authorization": f"Bearer {reader}"}
        etag = (await client.get(f"/bundles/{TENANT}", headers=bundle)).headers["etag"]
        for n in range(CHANGES):
            waiting = asyncio.create_task(
                client.get(
                    f"/bundles/{TENANT}",
                    headers={
                        **bundle,
                        "If-None-Match": etag,
                        "Prefer": "modes=snapshot,delta;wait=30",
                    },
                )
            )
            await asyncio.sleep(0.1)
            body = {
                "schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "title", "value": f"Polled {n}"}],
            }
            started = time.perf_counter()
            r = await client.patch(
                f"/scim/v2/Users/{people[n % len(people)]}",
                content=json.dumps(body),
                headers={"Authorization": f"Bearer {admin}", "Content-Type": SCIM},
            )
            patches.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
            answer = await waiting
            seen.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.status_code
            etag = answer.headers["etag"]
    return {
        "long_poll_p50_s": round(statistics.median(seen), 3),
        "long_poll_p95_s": round(p95(seen), 3),
        "long_poll_baseline_patch_p95_s": round(p95(patches), 3),
    }


def run() -> dict[str, Any]:
    """Set up, measure in process, then over HTTP against `gatehouse serve`."""
    server_cpus, load_cpus = cpu_sets()
    with temp_home() as home:
        env = bench_env(home, rate_limit_enterprise=NEVER_REFUSED)
        token = enterprise_tenant(env, home, TENANT)
        reader, admin = token("bundles:read"), token("admin:*")
        cfg = Settings(home=home, rate_limit_enterprise=int(NEVER_REFUSED), _env_file=None)  # type: ignore[call-arg]
        result = asyncio.run(in_process(cfg))
        people = result.pop("people")
        with Server(env, home, server_cpus) as server:
            path = f"/bundles/{TENANT}"
            first = httpx.get(
                f"http://127.0.0.1:{server.port}{path}",
                headers={"Authorization": f"Bearer {reader}"},
                timeout=120,
            )
            etag = first.headers["etag"]
            health = load(server.port, "/health", requests=REQUESTS_304, cpus=load_cpus)
            not_modified = load(
                server.port,
                path,
                token=reader,
                requests=REQUESTS_304,
                cpus=load_cpus,
                expect=304,
                headers=(f"If-None-Match: {etag}",),
            )
            downloads = load(
                server.port,
                path,
                token=reader,
                requests=DOWNLOADS,
                warmup=20,
                connections=4,
                cpus=load_cpus,
            )
            log(
                f"304: {not_modified['rps']}/s (health {health['rps']}/s); "
                f"downloads {downloads['rps']}/s"
            )
            polled = asyncio.run(long_polls(server.port, reader, admin, people))
            log(f"long poll p95 {polled['long_poll_p95_s']}s")
    result.update(polled)
    result.update(
        {
            "rps_304": not_modified["rps"],
            "rps_304_baseline_health": health["rps"],
            "downloads_per_s": downloads["rps"],
            "download_mib_per_s": round(downloads["rps"] * result["bundle_bytes"] / 2**20, 1),
        }
    )
    passed = {
        "build_s": result["build_s"] <= TARGETS["build_s"],
        "incremental_ms": result["incremental_ms"] <= TARGETS["incremental_ms"],
        "rps_304": result["rps_304"] >= TARGETS["rps_304"],
        "downloads_per_s": result["downloads_per_s"] >= TARGETS["downloads_per_s"],
        "long_poll_p95_s": result["long_poll_p95_s"] <= TARGETS["long_poll_p95_s"],
    }
    return {
        "bench": BENCH,
        "metric": result["build_s"],
        "unit": "s",
        **result,
        "targets": TARGETS,
        "passed": passed,
        "pass": all(passed.values()),
    }


if __name__ == "__main__":
    emit(run())
