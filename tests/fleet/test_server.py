"""A real `gatehouse serve` process receiving what an OPA sends, over TCP."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fleet.conftest import event, gz, status_report
from tests.serving import serving

pytestmark = pytest.mark.xdist_group("cli")
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")
OPA_HEADERS = {"User-Agent": "Open Policy Agent/1.4.2 (linux, amd64)"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A server with tenant acme; yields (url, an OPA's token, a reader's token)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(
        GATEHOUSE_HOME=str(tmp_path / "var"),
        GATEHOUSE_LOG_LEVEL="WARNING",
        GATEHOUSE_DECISION_LOG_MAX_BYTES="65536",
        GATEHOUSE_DECISION_LOG_MAX_DECOMPRESSED_BYTES="1048576",
    )

    def gh(*args: str) -> str:
        done = subprocess.run(
            [GATEHOUSE, *args], env=env, capture_output=True, text=True, check=True, timeout=60
        )
        return done.stdout

    gh("db", "upgrade")
    gh("tenant", "create", "acme")
    tokens = [
        json.loads(gh("token", "create", "--tenant", "acme", "-s", scope, "--json"))["token"]
        for scope in ("fleet:report", "decisions:read")
    ]
    with serving(env) as url:
        yield url, tokens[0], tokens[1]


def test_an_opa_reports_and_uploads_over_http(server: tuple[str, str, str]) -> None:
    """Status and gzip uploads as OPA sends them; refusals arrive as problem+json on the wire."""
    url, opa, reader = server
    auth = {**OPA_HEADERS, "Authorization": f"Bearer {opa}"}
    with httpx.Client(base_url=url, headers=auth, timeout=10) as client:
        status = client.post("/opa/status", json=status_report())
        assert status.status_code == 200, status.text
        logs = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        sent = client.post("/opa/logs", content=gz([event(n) for n in range(20)]), headers=logs)
        assert sent.json() == {"received": 20, "stored": 20, "duplicates": 0}
        resent = client.post("/opa/logs", content=gz([event(n) for n in range(20)]), headers=logs)
        assert resent.json()["duplicates"] == 20

        bomb = gzip.compress(b"[" + b" " * (8 * 1024 * 1024) + b"]", compresslevel=9)
        refused = client.post("/opa/logs", content=bomb, headers=logs)
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"

        def chunks() -> Iterator[bytes]:
            noise = os.urandom(8192)
            for _ in range(16):
                yield noise

        streamed = client.post("/opa/logs", content=chunks(), headers=logs)
        assert streamed.status_code == 413
        # The decision-log limit covers the partitioned path too, not the general 1 MiB.
        partitioned = client.post("/opa/logs/edge", content=os.urandom(100_000), headers=logs)
        assert partitioned.status_code == 413
    read = {"Authorization": f"Bearer {reader}"}
    page = httpx.get(f"{url}/v1/decisions?limit=500", headers=read, timeout=10).json()
    assert len(page["items"]) == 20
    fleet = httpx.get(f"{url}/v1/distribution/status", headers=read, timeout=10)
    assert fleet.status_code == 403  # the reader may read decisions, not the fleet
