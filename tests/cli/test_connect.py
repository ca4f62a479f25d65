"""`gatehouse connect` as a user runs it: add, list, test and discover a SQLite source."""

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_cli import env, gh

pytestmark = pytest.mark.xdist_group("cli")
__all__ = ["env"]


def hr_source(env: dict[str, str], tmp_path: Path) -> Path:
    """A SQLite source in tenant acme's source directory, a migrated store, tenant acme."""
    sources = tmp_path / "var" / "sources" / "acme"
    sources.mkdir(parents=True)
    db = sources / "hr.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE employees (id INTEGER PRIMARY KEY, email TEXT, salary REAL)")
        conn.execute("INSERT INTO employees VALUES (1, 'a@example.com', 10.5)")
    gh(env, "db", "upgrade")
    gh(env, "tenant", "create", "acme")
    return db


def test_connect_add_list_test_discover(env: dict[str, str], tmp_path: Path) -> None:
    """A source in the tenant's source directory is added (by a relative path), checked and
    discovered."""
    db = hr_source(env, tmp_path)
    out = gh(
        env, "connect", "add", "sqlite", "--tenant", "acme", "--name", "hr", "-c", "path=hr.db"
    )
    assert "added connection hr (sqlite)" in out
    assert "ok" in out and "1 stream(s) readable" in out
    listed = json.loads(gh(env, "connect", "list", "--tenant", "acme", "--json"))
    assert [(c["name"], c["last_check_ok"]) for c in listed] == [("hr", True)]
    streams = json.loads(gh(env, "connect", "discover", "hr", "--tenant", "acme", "--json"))
    fields = {f["name"]: f for f in streams[0]["fields"]}
    assert streams[0]["kind"] == "identity"
    assert fields["salary"]["sensitivity"] == "restricted"
    table = gh(env, "connect", "discover", "hr", "--tenant", "acme")
    assert "employees" in table and "restricted" in table
    assert "ok" in gh(env, "connect", "test", "hr", "--tenant", "acme")
    db.unlink()
    failed = gh(env, "connect", "test", "hr", "--tenant", "acme", code=1)
    assert "failed (config)" in failed and "no SQLite database" in failed
    outside = tmp_path / "elsewhere.db"
    sqlite3.connect(outside).close()
    refused = gh(
        env,
        "connect",
        "add",
        "sqlite",
        "--tenant",
        "acme",
        "--name",
        "x",
        "-c",
        f"path={outside}",
        code=1,
    )
    assert "GATEHOUSE_SOURCE_ROOTS" in refused
    bad = gh(env, "connect", "add", "oracle", "--tenant", "acme", "--name", "y", code=2)
    assert "installed:" in bad
    wrong = gh(
        env, "connect", "add", "sqlite", "--tenant", "acme", "--name", "z", "-c", "nope", code=2
    )
    assert "key=value" in wrong


def test_connect_pause_and_resume(env: dict[str, str], tmp_path: Path) -> None:
    """A paused connection refuses `sync run` until it is resumed; each change is audited."""
    db = hr_source(env, tmp_path)
    gh(env, "connect", "add", "sqlite", "--tenant", "acme", "--name", "hr", "-c", f"path={db}")
    paused = gh(env, "connect", "pause", "hr", "--tenant", "acme")
    assert "paused connection hr (sqlite)" in paused
    assert "gatehouse connect resume hr --tenant acme" in paused
    listed = json.loads(gh(env, "connect", "list", "--tenant", "acme", "--json"))
    assert [(c["name"], c["status"]) for c in listed] == [("hr", "paused")]
    refused = gh(env, "sync", "run", "hr", "--tenant", "acme", code=2)
    assert "is paused" in refused and "resume" in refused
    assert "resumed connection hr" in gh(env, "connect", "resume", "hr", "--tenant", "acme")
    listed = json.loads(gh(env, "connect", "list", "--tenant", "acme", "--json"))
    assert [c["status"] for c in listed] == ["active"]
    missing = gh(env, "connect", "pause", "nope", "--tenant", "acme", code=2)
    assert "No connection" in missing
    exported = gh(env, "audit", "export", "--tenant", "acme")
    assert exported.count('"connection.update"') == 2
