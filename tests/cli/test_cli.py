"""The `gatehouse` command, run as a user would, against a fresh state directory."""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gatehouse.bootstrap import prepare
from gatehouse.config import Settings

pytestmark = pytest.mark.xdist_group("cli")
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment pointing Gatehouse at a private home, with no inherited GATEHOUSE_*."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    return {**clean, "GATEHOUSE_HOME": str(tmp_path / "var"), "COLUMNS": "200"}


def gh(env: dict[str, str], *args: str, code: int = 0) -> str:
    """Run a gatehouse command; check its exit code; return stdout + stderr."""
    proc = subprocess.run([GATEHOUSE, *args], env=env, capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    return out


def test_admin_workflow_and_audit_verification(env: dict[str, str], tmp_path: Path) -> None:
    """Migrate, create a tenant and tokens, revoke, export and verify the audit log."""
    assert re.search(r"revision \d{4}", gh(env, "db", "upgrade"))
    assert re.search(r"current: (\d{4})  head: \1", gh(env, "db", "current"))
    gh(env, "tenant", "create", "acme", "--tier", "pro", "--name", "Acme Inc")
    tenants = json.loads(gh(env, "tenant", "list", "--json"))
    assert [(t["id"], t["tier"]) for t in tenants] == [("acme", "pro")]
    made = json.loads(
        gh(
            env,
            "token",
            "create",
            "--tenant",
            "acme",
            "-s",
            "tokens:read",
            "-s",
            "audit:read",
            "--expires-in",
            "4w",
            "--json",
        )
    )
    assert made["token"].startswith("gth_")
    assert made["scopes"] == ["audit:read", "tokens:read"]
    listed = json.loads(gh(env, "token", "list", "--tenant", "acme", "--json"))
    assert [t["id"] for t in listed] == [made["id"]]
    assert "token" not in listed[0]
    gh(env, "token", "revoke", made["id"], "--tenant", "acme")
    assert json.loads(gh(env, "token", "list", "--tenant", "acme", "--json")) == []

    verified = gh(env, "audit", "verify")
    assert re.search(r"ok\s+_platform: 1 entries", verified)
    assert re.search(r"ok\s+acme: 2 entries", verified)
    export = tmp_path / "audit.jsonl"
    gh(env, "audit", "export", "--output", str(export))
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    by_chain = [(r["tenant_id"], r["seq"], r["action"]) for r in rows]
    assert by_chain == [
        ("_platform", 1, "tenant.create"),
        ("acme", 1, "token.create"),
        ("acme", 2, "token.revoke"),
    ]

    with sqlite3.connect(tmp_path / "var" / "gatehouse.db") as conn:
        conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE tenant_id = 'acme' AND seq = 1")
    out = gh(env, "audit", "verify", code=1)
    assert re.search(r"BROKEN\s+acme: at seq 1: entry was changed", out)


def test_bad_arguments_and_settings(env: dict[str, str]) -> None:
    """Clear messages and exit code 2 for wrong input."""
    gh(env, "db", "upgrade")
    assert "exactly one of" in gh(env, "token", "create", "-s", "tokens:read", code=2)
    gh(env, "tenant", "create", "acme")
    out = gh(env, "token", "create", "--tenant", "acme", "-s", "root", code=2)
    assert "unknown scopes" in out
    assert "No tenant 'ghost'" in gh(
        env, "token", "create", "--tenant", "ghost", "-s", "tokens:read", code=2
    )
    assert "taken" in gh(env, "tenant", "create", "acme", code=2)
    assert "[a-z0-9]" in gh(env, "tenant", "create", "Acme_Corp", code=2)
    bad = {**env, "GATEHOUSE_PORT": "eighty", "GATEHOUSE_OUTBOUND_ALLOW": "10.0.0.0/8,nonsense"}
    out = gh(bad, "config", "show", code=2)
    assert "GATEHOUSE_PORT" in out
    assert "GATEHOUSE_OUTBOUND_ALLOW" in out


def test_config_show_masks_secrets(env: dict[str, str]) -> None:
    """Effective settings, with the master key and URL passwords masked."""
    key = gh(env, "keys", "generate").strip()
    shown = {
        **env,
        "GATEHOUSE_MASTER_KEY": key,
        "GATEHOUSE_DATABASE_URL": "postgresql://app:hunter2@db.internal/gh",
        "GATEHOUSE_OUTBOUND_ALLOW": "10.1.0.0/16, 192.168.5.0/24",
    }
    values = json.loads(gh(shown, "config", "show", "--json"))
    assert values["master_key"] == "***"
    assert values["database_url"] == "postgresql+asyncpg://app:***@db.internal/gh"
    assert values["outbound_allow"] == ["10.1.0.0/16", "192.168.5.0/24"]
    text = gh(shown, "config", "show")
    assert key not in text
    assert "hunter2" not in text
    in_query = {
        **env,
        "GATEHOUSE_DATABASE_URL": "postgresql://db.internal/gh?user=app&password=hunter2",
        "GATEHOUSE_REDIS_URL": "rediss://:s3cret@cache.internal:6380/0?socket_timeout=1",
    }
    values = json.loads(gh(in_query, "config", "show", "--json"))
    assert values["database_url"] == "postgresql+asyncpg://db.internal/gh?user=app&password=***"
    assert values["redis_url"] == "rediss://:***@cache.internal:6380/0?socket_timeout=1"
    text = gh(in_query, "config", "show")
    assert "hunter2" not in text
    assert "s3cret" not in text


def test_decision_log_purge(env: dict[str, str]) -> None:
    """The purge command applies the retention now; with retention off it deletes nothing."""
    gh(env, "db", "upgrade")
    assert "deleted 0 decisions older than 30 days" in gh(env, "decision-log", "purge")
    off = {**env, "GATEHOUSE_DECISION_LOG_RETENTION_DAYS": "0"}
    assert "retention is off" in gh(off, "decision-log", "purge")
    assert "deleted 0 decisions older than 7 days" in gh(
        off, "decision-log", "purge", "--older-than-days", "7"
    )
    gh(env, "decision-log", "purge", "--older-than-days", "-1", code=2)


def test_keys_rotate_and_prune(env: dict[str, str]) -> None:
    """Rotation re-encrypts and prune destroys the retired key."""
    gh(env, "db", "upgrade")
    gh(env, "serve", "--help")
    assert "re-encrypted 0 secrets" in gh(env, "keys", "rotate")
    assert "destroyed 1 retired keys" in gh(env, "keys", "prune")
    exported = [json.loads(line) for line in gh(env, "audit", "export").splitlines()]
    assert [r["action"] for r in exported] == ["keys.rotate", "keys.prune"]


async def test_demo_bootstrap_reuses_what_exists(tmp_path: Path) -> None:
    """The first run creates tenant and token; a rerun prints no token unless asked."""
    cfg = Settings(home=tmp_path / "var", _env_file=None)  # type: ignore[call-arg]
    first = await prepare(cfg, demo=True)
    assert first.demo_created
    assert first.demo_token
    again = await prepare(cfg, demo=True)
    assert (again.demo_created, again.demo_token) == (False, None)
    asked = await prepare(cfg, demo=True, new_token=True)
    assert asked.demo_token
    assert asked.demo_token != first.demo_token
    assert (tmp_path / "var" / "gatehouse.db").exists()
    with sqlite3.connect(tmp_path / "var" / "gatehouse.db") as conn:
        people = conn.execute("SELECT count(*) FROM identities WHERE tenant_id = 'demo'")
        assert people.fetchone() == (50,)
    mode = os.stat(tmp_path / "var" / "master.key").st_mode & 0o777
    assert mode == 0o600


def free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_demo_prints_commands_that_work(env: dict[str, str]) -> None:
    """`gatehouse serve --demo` prints a token and curl commands that succeed."""
    port = free_port()
    proc = subprocess.Popen(
        [GATEHOUSE, "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        banner = []
        assert proc.stdout is not None
        for line in proc.stdout:
            banner.append(line)
            if "Application startup complete" in line:
                break
        text = "".join(banner)
        token = re.search(r"Demo token\s+(gth_\w+)", text)
        assert token, text
        urls = re.findall(r"curl -s .*?(http://\S+)\s*$", text, re.M)
        assert len(urls) == 4
        auth = {"Authorization": f"Bearer {token.group(1)}"}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(urls[0], timeout=5).json()["status"] == "ok"
        assert httpx.get(urls[1], headers=auth, timeout=5).status_code == 200
        created = httpx.post(
            urls[2], headers=auth, json={"name": "ci", "scopes": ["audit:read"]}, timeout=5
        )
        assert created.status_code == 201
        audit = httpx.get(urls[3], headers=auth, timeout=5).json()
        assert audit["items"][0]["action"] == "token.create"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_demo_generate_files_and_store(env: dict[str, str], tmp_path: Path) -> None:
    """`demo generate` writes source files, or loads a tenant with a progress bar."""
    out = tmp_path / "files"
    gh(
        env,
        "demo",
        "generate",
        "--users",
        "40",
        "--groups",
        "6",
        "--out",
        str(out),
        "--format",
        "json",
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "groups.jsonl",
        "hr.jsonl",
        "ldap.jsonl",
        "okta.jsonl",
    ]
    gh(env, "db", "upgrade")
    gh(env, "tenant", "create", "load")
    loaded = gh(env, "demo", "generate", "--users", "40", "--groups", "6", "--tenant", "load")
    assert "loaded 40 identities, 6 groups" in loaded
    again = gh(env, "demo", "generate", "--users", "40", "--tenant", "load", code=2)
    assert "nothing was loaded" in again
    assert "exactly one of" in gh(env, "demo", "generate", code=2)
