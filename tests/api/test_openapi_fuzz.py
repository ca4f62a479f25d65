"""Property-based fuzzing of every documented route (schemathesis) against a real server."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serving import serving

pytestmark = pytest.mark.xdist_group("fuzz")
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real Gatehouse process with a tenant and an admin token; yields (url, token)."""
    home = tmp_path_factory.mktemp("fuzz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(
        GATEHOUSE_HOME=str(home),
        GATEHOUSE_RATE_LIMIT_ENTERPRISE="10000000",
        GATEHOUSE_LOG_LEVEL="WARNING",
    )
    gh = [GATEHOUSE]
    subprocess.run([*gh, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*gh, "tenant", "create", "fuzz", "--tier", "enterprise"],
        env=env,
        check=True,
        capture_output=True,
    )
    made = subprocess.run(
        [*gh, "token", "create", "--tenant", "fuzz", "-s", "admin:*", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = json.loads(made.stdout)["token"]
    with serving(env) as url:
        yield url, token


def test_documented_behaviour(server: tuple[str, str]) -> None:
    """No generated request causes a 500, and every response matches the documented one."""
    url, token = server
    api = schemathesis.openapi.from_url(f"{url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @settings(
            max_examples=int(os.environ.get("GATEHOUSE_FUZZ_EXAMPLES", "25")),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=url, headers=headers, checks=checks)

        run()
