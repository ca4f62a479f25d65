"""decisions_failover: decisions through the router while one of two remote OPAs is killed.

Two OPA-compatible endpoints (`_opa_stub.py`, separate processes on loopback) serve one tenant
in `remote` mode, round robin. `BENCH_FAILOVER_CONCURRENCY` workers ask the router (in this
process, over its pooled HTTP clients) for decisions; after `BENCH_FAILOVER_STEADY` seconds one
endpoint is killed with SIGKILL and the load goes on for `BENCH_FAILOVER_AFTER` seconds.
Reports failed decisions (errors, or answers from a fallback rather than an OPA: the metric,
which should be 0), p99 latency in the steady phase and in the second after the kill (the
switch), and their ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, BenchError, free_port, get, log, main, temp_home

from gatehouse.app import build_services, open_services
from gatehouse.audit.context import Actor
from gatehouse.config import Settings
from gatehouse.db import migrate
from gatehouse.decisions.routing import service as routing
from gatehouse.decisions.routing.schemas import DecisionConfigIn
from gatehouse.observability.logging import configure
from gatehouse.services import Services
from gatehouse.tenants import service as tenants
from gatehouse.tenants.models import PLATFORM
from gatehouse.tenants.schemas import TenantCreate

BENCH = "decisions_failover"
CONCURRENCY = int(os.environ.get("BENCH_FAILOVER_CONCURRENCY", "16"))
STEADY = float(os.environ.get("BENCH_FAILOVER_STEADY", "4"))
AFTER = float(os.environ.get("BENCH_FAILOVER_AFTER", "4"))
SWITCH = 1.0  # seconds after the kill that count as "during the switch"
STUB = Path(__file__).resolve().parent / "_opa_stub.py"
INPUT = {"subject": {"id": "ada"}, "action": "read", "resource": {"type": "report"}}


def start_stub() -> tuple[subprocess.Popen[bytes], int]:
    """An OPA stub process and its port, once /health answers."""
    port = free_port()
    proc = subprocess.Popen([PYTHON, str(STUB), str(port)], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if get(port, "/health", timeout=1.0)[0] == 200:
                return proc, port
        time.sleep(0.05)
    proc.kill()
    raise BenchError("the OPA stub did not start")


async def prepare(home: Path, urls: list[str]) -> Services:
    """A migrated store with one tenant routed to `urls`, and its started router."""
    settings = Settings(home=home, outbound_allow=["127.0.0.0/8"], _env_file=None)  # type: ignore[call-arg,list-item]
    svc = build_services(settings)
    await migrate.upgrade(svc.db.engine)
    await open_services(svc)
    config = DecisionConfigIn.model_validate(
        {
            "mode": "remote",
            "opa_endpoints": urls,
            "health_check": {"interval_seconds": 0.5, "timeout_seconds": 1},
            "circuit_breaker": {"failure_threshold": 3, "recovery_timeout": 5},
            "request_timeout": 1,
        }
    )
    async with svc.db.transaction() as session:
        actor = Actor(PLATFORM, "bench")
        await tenants.create_tenant(session, actor, TenantCreate(id="bench", name="Bench"))
        await routing.put(session, svc.keys, actor, "bench", config)
    await svc.decision_router.reload("bench")
    return svc


def p99(samples: list[float]) -> float:
    """The 99th percentile (nearest rank) in milliseconds."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] * 1000


async def load(svc: Services, victim: subprocess.Popen[bytes]) -> dict[str, object]:
    """Run the load, kill the victim mid-way, and summarise."""
    router = svc.decision_router
    samples: list[tuple[float, float]] = []  # (start, seconds)
    failed = 0
    begin = time.perf_counter()
    killed_at = begin + STEADY
    end = killed_at + AFTER

    async def worker() -> None:
        nonlocal failed
        while (start := time.perf_counter()) < end:
            try:
                decision = await router.evaluate("bench", "authz/allow", INPUT)
                ok = decision.engine == "remote" and decision.result is True
            except Exception:
                ok = False
            samples.append((start, time.perf_counter() - start))
            failed += not ok

    async def killer() -> None:
        await asyncio.sleep(STEADY)
        os.kill(victim.pid, signal.SIGKILL)
        log(f"killed OPA stub {victim.pid}")

    await asyncio.gather(killer(), *(worker() for _ in range(CONCURRENCY)))
    steady = [s for t, s in samples if begin + 0.5 <= t < killed_at]
    switch = [s for t, s in samples if killed_at <= t < killed_at + SWITCH]
    steady_p99, switch_p99 = p99(steady), p99(switch)
    return {
        "bench": BENCH,
        "metric": failed,
        "unit": "failed decisions",
        "decisions": len(samples),
        "steady_p99_ms": round(steady_p99, 3),
        "switch_p99_ms": round(switch_p99, 3),
        "switch_vs_steady_p99": round(switch_p99 / steady_p99, 2) if steady_p99 else None,
        "steady_decisions_per_s": round(len(steady) / max(STEADY - 0.5, 1e-9)),
        "concurrency": CONCURRENCY,
    }


async def run_async(home: Path) -> dict[str, object]:
    """Start both stubs, route to them, load, kill one, report."""
    first, first_port = start_stub()
    second, second_port = start_stub()
    svc = None
    try:
        urls = [f"http://127.0.0.1:{first_port}", f"http://127.0.0.1:{second_port}"]
        svc = await prepare(home, urls)
        return await load(svc, first)
    finally:
        if svc is not None:
            await svc.decision_router.close()
            await svc.db.dispose()
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def measured() -> dict[str, Any]:
    """Run the benchmark in a throwaway home."""
    configure("WARNING", json=True, stream=sys.stderr)  # stdout carries only the result line
    with temp_home() as home:
        return asyncio.run(run_async(home))


if __name__ == "__main__":
    sys.exit(main(BENCH, measured))
