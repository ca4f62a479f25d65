"""What a newcomer meets first: make run, CLI start-up, a wrong directory, a taken port."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_cli import GATEHOUSE, gh

pytestmark = pytest.mark.xdist_group("cli")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment with no GATEHOUSE_* and no home: the CLI's defaults apply."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    return {**clean, "COLUMNS": "200"}


def test_make_run_installs_only_what_serving_needs() -> None:
    """`make run` installs requirements/base.txt, visibly; the test toolchain is `make test`'s."""
    dry = subprocess.run(
        ["make", "-n", "-B", "run", "VENV=/nonexistent-venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in dry.splitlines() if "pip install" in line]
    assert any("requirements/base.txt" in line for line in installs), dry
    assert not any("requirements/dev.txt" in line for line in installs), dry
    assert not any(re.search(r"\s-q\b", line) for line in installs), dry
    tests = subprocess.run(
        ["make", "-n", "-B", "test", "VENV=/nonexistent-venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "requirements/dev.txt" in tests


def test_help_imports_no_command() -> None:
    """`gatehouse --help` lists every command without importing their modules."""
    probe = (
        "import sys; from gatehouse.cli.main import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('gatehouse.', 'sqlalchemy', "
        "'fastapi'))), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"'))
    assert loaded == ["gatehouse.cli", "gatehouse.cli.main"], loaded
    for name in ("serve", "tenant", "token", "connect", "sync", "import", "webhook", "worker"):
        assert re.search(rf"│ {name}\s", done.stdout), done.stdout


def test_simple_commands_skip_the_web_stack(tmp_path: Path) -> None:
    """`tenant` and `token` commands import neither FastAPI nor Redis."""
    probe = (
        "import sys, gatehouse.cli.admin\n"
        "print([m for m in ('fastapi', 'redis', 'gatehouse.app') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_outside_a_gatehouse_home_says_so_and_creates_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Run where there is no var/: one line saying what to do, exit 2, no file created."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (
        ("tenant", "list"),
        ("token", "list", "--tenant", "acme"),
        ("audit", "verify"),
        ("db", "current"),
    ):
        proc = subprocess.run(
            [GATEHOUSE, *args], env=env, cwd=elsewhere, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2, proc.stdout + proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "no Gatehouse state here" in lines[0]
        assert "GATEHOUSE_HOME" in lines[0]
        assert "Traceback" not in proc.stderr
        assert list(elsewhere.iterdir()) == []


def test_a_home_without_schema_is_refused_too(env: dict[str, str], tmp_path: Path) -> None:
    """An empty SQLite file where the database should be is not silently used."""
    home = tmp_path / "var"
    home.mkdir()
    (home / "gatehouse.db").touch()
    out = gh({**env, "GATEHOUSE_HOME": str(home)}, "tenant", "list", code=2)
    assert "no Gatehouse state here" in out


def test_serve_on_a_taken_port_fails_first(env: dict[str, str], tmp_path: Path) -> None:
    """A taken port: one clear line, no banner, no token minted, nothing written."""
    home = tmp_path / "var"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [GATEHOUSE, "serve", "--demo", "--new-token", "--port", str(port)],
            env={**env, "GATEHOUSE_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert f"cannot listen on 127.0.0.1:{port}" in out
    assert "--port" in out
    assert "gth_" not in out and "Demo token" not in out
    assert not home.exists()


def test_tables_never_cut_ids(tmp_path: Path, env: dict[str, str]) -> None:
    """On an 80-column terminal `token list` shows whole ids, ready for `token revoke`."""
    env = {**env, "GATEHOUSE_HOME": str(tmp_path / "var"), "COLUMNS": "80"}
    gh(env, "db", "upgrade")
    gh(env, "tenant", "create", "acme")
    made = json.loads(
        gh(
            env,
            *("token", "create", "--tenant", "acme", "-s", "audit:read", "-s", "tokens:read"),
            *("--name", "a token whose name is long enough to crowd the table", "--json"),
        )
    )
    listed = gh(env, "token", "list", "--tenant", "acme")
    assert made["id"] in listed, listed
    gh(env, "token", "revoke", made["id"], "--tenant", "acme")
