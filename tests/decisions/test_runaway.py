"""A real server: while one tenant's runaway policy is being stopped, everyone else is served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.serving import serving

pytestmark = pytest.mark.xdist_group("cli")
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")

# Thirty-six million comparisons: far longer than the limit below, holding regorus (and, in
# process, the GIL) throughout.
RUNAWAY = """package slow

import rego.v1

n := count([1 | some a in numbers.range(1, 6000); some b in numbers.range(1, 6000); a == b])
"""
QUICK = 'package quick\n\nimport rego.v1\n\nallow if input.user == "bob"\n'


def gatehouse_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a server with its own home (SQLite) and the default engine settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(GATEHOUSE_HOME=str(tmp_path / "var"), GATEHOUSE_LOG_LEVEL="WARNING", **extra)
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A default-configured server with tenants acme and beta; yields (url, tenant → token)."""
    # A limit far above what the other requests need, so "answered while A runs" is ordering.
    env = gatehouse_env(tmp_path, GATEHOUSE_DECISIONS_TIME_LIMIT_MS="8000")

    def gh(*args: str) -> str:
        done = subprocess.run(
            [GATEHOUSE, *args], env=env, capture_output=True, text=True, check=True, timeout=60
        )
        return done.stdout

    gh("db", "upgrade")
    tokens = {}
    for tenant in ("acme", "beta"):
        gh("tenant", "create", tenant)
        made = gh(
            "token", "create", "--tenant", tenant,
            "-s", "policies:write", "-s", "decisions:evaluate", "--json",
        )  # fmt: skip
        tokens[tenant] = json.loads(made)["token"]
    with serving(env) as url:
        yield url, tokens


def test_a_runaway_policy_is_stopped_while_health_and_other_tenants_are_served(
    server: tuple[str, dict[str, str]],
) -> None:
    """Tenant acme's looping policy is stopped with `eval_cancel_error`; while it still runs,
    /health and tenant beta's decisions answer (they would wait for it in process)."""
    url, tokens = server
    rego = {"Content-Type": "text/plain"}

    def client(tenant: str) -> httpx.Client:
        auth = {"Authorization": f"Bearer {tokens[tenant]}"}
        return httpx.Client(base_url=url, headers=auth, timeout=120)

    with client("acme") as acme, client("beta") as beta:
        assert acme.put("/v1/policies/slow", content=RUNAWAY, headers=rego).status_code == 200
        assert beta.put("/v1/policies/quick", content=QUICK, headers=rego).status_code == 200
        ask = {"input": {"user": "bob"}}
        assert beta.post("/v1/data/quick/allow", json=ask).json()["result"] is True
        with ThreadPoolExecutor(1) as pool:
            runaway = pool.submit(acme.post, "/v1/data/slow/n", json={})
            answered = 0
            for _ in range(5):
                assert httpx.get(f"{url}/health", timeout=120).status_code == 200
                found = beta.post("/v1/data/quick/allow", json=ask)
                assert found.status_code == 200 and found.json()["result"] is True
                answered += 1
            # Everything above answered before the runaway did (its limit is far off).
            assert not runaway.done()
            stopped = runaway.result()
    assert answered == 5
    assert stopped.status_code == 500, stopped.text
    error = stopped.json()
    assert error["errors"][0]["code"] == "eval_cancel_error"
    assert "stopped" in error["errors"][0]["message"]
    # The replacement child serves both tenants.
    with client("beta") as beta:
        assert beta.post("/v1/data/quick/allow", json=ask).json()["result"] is True
