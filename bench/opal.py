"""OPAL publish latency against a real opal-server and opal-client (issue 5's OPAL target).

From a committed SCIM PATCH to the OPAL server having taken Gatehouse's DataUpdate and a
subscribed opal-client having fetched the document from Gatehouse and reported back (its
callback to /opal/reports/{tenant}). Baseline in the same run: a bare DataUpdate POSTed
straight to the OPAL server's /data/config, timed to the same client report. Target: p95 ≤ 1 s.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _common import Server, bench_env, cli, emit, free_port, log, temp_home  # noqa: E402

from tests.opal.processes import opal_client, opal_server  # noqa: E402

BENCH = "opal"
USERS = int(os.environ.get("BENCH_OPAL_USERS", "500"))
CHANGES = int(os.environ.get("BENCH_OPAL_CHANGES", "30"))
TENANT = "bench"
NEVER_REFUSED = "100000000"
TARGET_P95_S = 1.0
DEBOUNCE_S = 1.0  # the default: changes are spaced past it, so each one publishes
PLACEHOLDER = "<gatehouse token with scope opal:read>"
SCIM = "application/scim+json"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def p95(samples: list[float]) -> float:
    """The 95th percentile."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def stamp(value: str) -> float:
    """An RFC 3339 time as epoch seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class Site:
    """The Gatehouse side: HTTP calls as the admin."""

    def __init__(self, url: str, admin: str) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30
        )

    def status(self) -> dict[str, Any]:
        """The tenant's OPAL status."""
        r = self.http.get("/pip/opal/status", params={"limit": 5})
        r.raise_for_status()
        return dict(r.json())

    def report_for(self, update_id: str, seconds: float = 30.0) -> dict[str, Any]:
        """Wait for a succeeded client report about `update_id`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for report in self.status()["reports"]:
                if report["update_id"] == update_id and report["succeeded"]:
                    return dict(report)
            time.sleep(0.01)
        raise RuntimeError(f"no client report for update {update_id}")

    def newest_publish(self, after: str | None, seconds: float = 30.0) -> dict[str, Any]:
        """Wait for a delivered publish other than `after`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            last = self.status()["last_delivered"]
            if last and last["id"] != after:
                return dict(last)
            time.sleep(0.01)
        raise RuntimeError("no publish delivered")


def gatehouse_run(site: Site, user_ids: list[str]) -> tuple[list[float], list[float]]:
    """(seconds to the OPAL server, seconds to the client's report) for each change."""
    to_server: list[float] = []
    to_client: list[float] = []
    last = site.status()["last_delivered"]
    previous = last["id"] if last else None
    for n in range(CHANGES):
        time.sleep(DEBOUNCE_S + 0.1)
        ops = {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "title", "value": f"t{n}"}],
        }
        started = time.time()
        r = site.http.patch(
            f"/scim/v2/Users/{user_ids[n % len(user_ids)]}",
            content=json.dumps(ops),
            headers={"Content-Type": SCIM},
        )
        r.raise_for_status()
        published = site.newest_publish(previous)
        previous = published["id"]
        report = site.report_for(published["id"])
        to_server.append(stamp(published["delivered_at"]) - started)
        to_client.append(stamp(report["received_at"]) - started)
    return to_server, to_client


def baseline_run(site: Site, opal_url: str, entry: dict[str, Any]) -> list[float]:
    """Seconds from a bare POST /data/config to the client's report, for each update."""
    samples: list[float] = []
    with httpx.Client(timeout=30) as client:
        for n in range(CHANGES):
            update = {"id": f"baseline-{n}", "entries": [entry], "reason": "baseline"}
            started = time.time()
            client.post(f"{opal_url}/data/config", json=update).raise_for_status()
            report = site.report_for(update["id"])
            samples.append(stamp(report["received_at"]) - started)
    return samples


def run() -> dict[str, Any]:
    """Start Gatehouse, opal-server and opal-client; measure both paths."""
    venv = Path(
        subprocess.run(
            [str(ROOT / "scripts" / "opal-venv")], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    with temp_home() as home:
        env = bench_env(
            home,
            rate_limit_enterprise=NEVER_REFUSED,
            outbound_allow="127.0.0.0/8",
            log_level="WARNING",
        )
        cli(["db", "upgrade"], env, home)
        cli(["tenant", "create", TENANT, "--tier", "enterprise"], env, home)
        admin, fetch = (
            json.loads(cli(["token", "create", "--tenant", TENANT, "-s", s, "--json"], env, home))[
                "token"
            ]
            for s in ("admin:*", "opal:read")
        )
        with Server(env, home) as server:
            url = f"http://127.0.0.1:{server.port}"
            site = Site(url, admin)
            user_ids = []
            for n in range(USERS):
                body = {"schemas": [USER], "userName": f"user{n}", "title": "Engineer"}
                r = site.http.post(
                    "/scim/v2/Users", content=json.dumps(body), headers={"Content-Type": SCIM}
                )
                r.raise_for_status()
                user_ids.append(r.json()["id"])
            port = free_port()
            opal_url = f"http://127.0.0.1:{port}"
            settings = {
                "enabled": True,
                "server_url": opal_url,
                "fetch_base_url": url,
                "fetch_token": fetch,
                "debounce_seconds": DEBOUNCE_S,
            }
            site.http.put("/pip/opal/settings", json=settings).raise_for_status()
            config = site.http.get("/pip/opal/config").json()
            sources = config["server_env"]["OPAL_DATA_CONFIG_SOURCES"].replace(PLACEHOLDER, fetch)
            client_env = {
                k: v.replace(PLACEHOLDER, fetch)
                for k, v in config["client_env"].items()
                if not v.startswith("<")
            }
            entry = json.loads(sources)["config"]["entries"][0]
            with (
                opal_server(venv, home, port, sources),
                opal_client(venv, home, free_port(), client_env),
            ):
                site.newest_publish(None)
                log(f"OPAL server and client up; {USERS} users; measuring {CHANGES} changes")
                baseline = baseline_run(site, opal_url, entry)
                to_server, to_client = gatehouse_run(site, user_ids)
    result = {
        "p95_s": round(p95(to_client), 3),
        "median_s": round(statistics.median(to_client), 3),
        "to_server_p95_s": round(p95(to_server), 3),
        "baseline_p95_s": round(p95(baseline), 3),
        "baseline_median_s": round(statistics.median(baseline), 3),
    }
    result["ratio_p95"] = round(result["p95_s"] / max(result["baseline_p95_s"], 1e-6), 2)
    return {
        "bench": BENCH,
        "metric": result["p95_s"],
        "unit": "s",
        **result,
        "users": USERS,
        "changes": CHANGES,
        "target_p95_s": TARGET_P95_S,
        "pass": result["p95_s"] <= TARGET_P95_S,
    }


if __name__ == "__main__":
    emit(run())
