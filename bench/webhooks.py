"""Webhook delivery: throughput, end-to-end latency and nothing lost across a kill -9.

A verifying receiver (Standard Webhooks, `standardwebhooks`) runs in its own process on
loopback. Throughput: N events are written to the outbox at once and the time until the
receiver has verified N distinct messages is measured; the baseline is the same N bodies,
signed and POSTed straight to the receiver by plain httpx with the same concurrency.
Latency: single SCIM creations, spaced out, timed from the event's commit to its verified
arrival. Durability: N more events, the server killed with SIGKILL mid-way and restarted;
every message must arrive. Targets: ≥ 1,000 deliveries/s, ≥ 50% of the baseline, p95 ≤ 250 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))

from _common import (  # noqa: E402
    BenchError,
    Server,
    bench_env,
    enterprise_tenant,
    free_port,
    log,
    main,
    temp_home,
)

BENCH = "webhooks"
MESSAGES = int(os.environ.get("BENCH_WEBHOOK_MESSAGES", "5000"))
CHANGES = int(os.environ.get("BENCH_WEBHOOK_CHANGES", "40"))
CONCURRENCY = 100
TENANT = "bench"
TARGET_RATE = 1000.0
TARGET_RATIO = 0.5
TARGET_P95_S = 0.25
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def receiver_app(secret: str) -> Any:
    """An ASGI app that verifies every POST and keeps what it saw."""
    from standardwebhooks import Webhook

    hook = Webhook(secret)
    seen: dict[str, float] = {}
    stats = {"total": 0, "rejected": 0, "latencies": []}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # the sender died mid-request
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":  # counts are cheap; latencies only when asked
            shown = stats if scope["path"] == "/latencies" else {**stats, "latencies": []}
            body = json.dumps({"unique": len(seen), **shown}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        stats["total"] += 1
        try:
            event = hook.verify(b"".join(chunks), headers)
        except Exception:
            stats["rejected"] += 1
            status = 400
        else:
            status = 204
            if headers["webhook-id"] not in seen and event["type"] == "identity.created":
                sent = datetime.fromisoformat(event["timestamp"]).timestamp()
                stats["latencies"].append(time.time() - sent)
            seen.setdefault(headers["webhook-id"], time.time())
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def serve_receiver(port: int, secret: str) -> None:
    """Run the receiver (the child process's whole job)."""
    import uvicorn

    uvicorn.run(receiver_app(secret), host="127.0.0.1", port=port, log_level="warning")


class Receiver:
    """The receiver process."""

    def __init__(self, secret: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        args = [sys.executable, __file__, "receiver", str(self.port), secret]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        self.client = httpx.Client(timeout=5)  # one for every poll: a new one costs a TLS context
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.stats()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise BenchError("the receiver did not start")

    def stats(self) -> dict[str, Any]:
        """What it has verified so far (counts)."""
        return dict(self.client.get(self.url).json())

    def latencies(self) -> list[float]:
        """Commit-to-arrival seconds of every first arrival of `identity.created`."""
        return list(self.client.get(self.url.replace("/hook", "/latencies")).json()["latencies"])

    def wait_for(self, unique: int, timeout: float) -> float:
        """Seconds until `unique` distinct messages have arrived."""
        started = time.monotonic()
        while self.stats()["unique"] < unique:
            if time.monotonic() - started > timeout:
                raise BenchError(f"only {self.stats()['unique']} of {unique} messages arrived")
            time.sleep(0.02)
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop it."""
        self.client.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def write_events(db: Path, count: int, start: int) -> None:
    """Commit `count` identity.created events in one transaction, as a bulk load does."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [
        (TENANT, "identity.created", "identity", f"id-{n}", json.dumps({"id": f"id-{n}"}), now)
        for n in range(start, start + count)
    ]
    with sqlite3.connect(db, timeout=30) as conn:
        conn.executemany(
            "INSERT INTO events (tenant_id, type, subject_type, subject_id, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )


async def baseline(url: str, secret: str, count: int) -> tuple[float, float]:
    """Seconds (and CPU seconds) for plain httpx to sign and POST `count` messages, keeping
    `CONCURRENCY` in flight: one sender per client, as httpx runs fastest (its pool does work
    in proportion to its connections on every request, so one client of 100 connections sends
    several times slower; docs/webhooks.md)."""
    from gatehouse.webhooks.signing import headers

    limits = httpx.Limits(max_connections=1)
    clients = [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(CONCURRENCY)]
    numbers = iter(range(count))

    async def sender(client: httpx.AsyncClient) -> None:
        for n in numbers:
            body = json.dumps({"type": "bench.baseline", "data": {"n": n}}).encode()
            signed = headers([secret], f"msg_base_{n}", int(time.time()), body)
            r = await client.post(url, content=body, headers=signed)
            r.raise_for_status()

    try:
        started, cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(sender(c) for c in clients))
        return time.monotonic() - started, time.process_time() - cpu
    finally:
        for client in clients:
            await client.aclose()


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user and system; Linux), or 0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95(samples: list[float]) -> float:
    """The 95th percentile."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run() -> dict[str, Any]:
    """Measure, and return the JSON line."""
    with temp_home() as home:
        env = bench_env(
            home,
            outbound_allow="127.0.0.0/8",
            webhooks_poll_seconds="0.05",
            webhooks_batch=str(CONCURRENCY),
        )
        token = enterprise_tenant(env, home, TENANT)("admin:*")
        server = Server(env, home)
        server.start()
        auth = {"Authorization": f"Bearer {token}"}
        site = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers=auth, timeout=30)
        db = home / "gatehouse.db"
        try:
            created = site.post("/v1/integration/webhooks", json={"url": "http://x.invalid/"})
            if created.status_code != 201:
                raise BenchError(created.text)
            receiver = Receiver(created.json()["secret"])
            site.patch(
                f"/v1/integration/webhooks/{created.json()['id']}", json={"url": receiver.url}
            ).raise_for_status()
            log(f"baseline: {MESSAGES} signed httpx POSTs")
            secret = created.json()["secret"]
            base_s, base_cpu = uvloop.run(baseline(receiver.url, secret, MESSAGES))
            before = receiver.stats()["unique"]
            log(f"throughput: {MESSAGES} outbox events")
            cpu = cpu_seconds(server.pid)
            write_events(db, MESSAGES, 0)
            took = receiver.wait_for(before + MESSAGES, 600)
            cpu = cpu_seconds(server.pid) - cpu
            log(f"latency: {CHANGES} SCIM creations")
            for n in range(CHANGES):
                user = {"schemas": [USER], "userName": f"user{n}"}
                r = site.post(
                    "/scim/v2/Users",
                    content=json.dumps(user),
                    headers={"Content-Type": "application/scim+json"},
                )
                r.raise_for_status()
                time.sleep(0.1)
            receiver.wait_for(before + MESSAGES + CHANGES, 60)
            latencies = receiver.latencies()[-CHANGES:]
            log("durability: kill -9 mid-load, restart")
            mark = receiver.stats()["unique"]
            write_events(db, MESSAGES, MESSAGES)
            while receiver.stats()["unique"] < mark + MESSAGES // 4:
                time.sleep(0.01)
            os.kill(server.pid, signal.SIGKILL)
            if server.proc is not None:
                server.proc.wait()
            at_kill = receiver.stats()["unique"] - mark
            server.stop()
            server.start()
            receiver.wait_for(mark + MESSAGES, 600)
            final = receiver.stats()
        finally:
            site.close()
            server.stop()
            if "receiver" in locals():
                receiver.stop()
    rate = MESSAGES / took
    base_rate = MESSAGES / base_s
    result = {
        "bench": BENCH,
        "metric": round(rate, 1),
        "unit": "deliveries/s",
        "baseline_per_s": round(base_rate, 1),
        "ratio": round(rate / base_rate, 3),
        "cpu_ms_per_delivery": round(cpu * 1000 / MESSAGES, 3),
        "baseline_cpu_ms_per_post": round(base_cpu * 1000 / MESSAGES, 3),
        "p95_s": round(p95(latencies), 3),
        "median_s": round(sorted(latencies)[len(latencies) // 2], 3),
        "killed_after": at_kill,
        "lost": max(0, mark + MESSAGES - final["unique"]),
        "duplicates": final["total"] - final["unique"] - final["rejected"],
        "rejected": final["rejected"],
        "messages": MESSAGES,
    }
    result["pass"] = (
        rate >= TARGET_RATE
        and result["ratio"] >= TARGET_RATIO
        and result["p95_s"] <= TARGET_P95_S
        and result["lost"] == 0
        and result["rejected"] == 0
    )
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["receiver"]:
        serve_receiver(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main(BENCH, run))
