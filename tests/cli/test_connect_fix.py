"""A failed `connect add` can be fixed from the CLI: dry runs, update, delete, listed errors."""

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_cli import env, gh

pytestmark = pytest.mark.xdist_group("cli")
__all__ = ["env"]


def source(env: dict[str, str], tmp_path: Path) -> Path:
    """A migrated store with tenant acme and a SQLite file in its source directory."""
    gh(env, "db", "upgrade")
    gh(env, "tenant", "create", "acme")
    found = json.loads(gh(env, "config", "show", "--json"))
    roots = found.get("source_roots") or [str(tmp_path / "var" / "sources")]
    root = Path(roots[0]) / "acme"
    root.mkdir(parents=True, exist_ok=True)
    db = root / "hr.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE employees (id INTEGER PRIMARY KEY, email TEXT)")
    return db


def listed(env: dict[str, str]) -> list[dict[str, object]]:
    """The tenant's connections."""
    return json.loads(gh(env, "connect", "list", "--tenant", "acme", "--json"))  # type: ignore[no-any-return]


def test_dry_run_saves_nothing_and_a_failed_check_is_not_saved(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`--dry-run` only checks; a configuration whose check fails is not stored."""
    db = source(env, tmp_path)
    args = ("connect", "add", "sqlite", "--tenant", "acme", "--name", "hr")
    out = gh(env, *args, "-c", f"path={db}", "--dry-run")
    assert "ok" in out and "dry run: nothing saved" in out
    assert listed(env) == []
    failed = gh(env, *args, "-c", f"path={db.with_name('missing.db')}", code=1)
    assert "not saved" in failed
    assert listed(env) == []
    gh(env, *args, "-c", f"path={db}")
    assert [(c["name"], c["last_check_ok"]) for c in listed(env)] == [("hr", True)]


def test_update_and_delete(env: dict[str, str], tmp_path: Path) -> None:
    """A saved connection is renamed, repointed and deleted from the CLI, each audited."""
    db = source(env, tmp_path)
    gh(
        env,
        "connect",
        "add",
        "sqlite",
        "--tenant",
        "acme",
        "--name",
        "hr",
        "--no-test",
        "-c",
        f"path={db.with_name('old.db')}",
    )
    assert [c["last_check_ok"] for c in listed(env)] == [None]
    failed = gh(env, "connect", "update", "hr", "--tenant", "acme", "--name", "people", code=1)
    assert "updated connection people" in failed and "failed" in failed
    fixed = gh(env, "connect", "update", "people", "--tenant", "acme", "-c", f"path={db}")
    assert "updated connection people" in fixed and "ok" in fixed
    assert [(c["name"], c["last_check_ok"]) for c in listed(env)] == [("people", True)]
    gone = gh(env, "connect", "delete", "people", "--tenant", "acme", "--yes")
    assert "deleted connection people" in gone
    assert listed(env) == []
    assert "No connection" in gh(
        env, "connect", "delete", "people", "--tenant", "acme", "-y", code=2
    )
    exported = gh(env, "audit", "export", "--tenant", "acme")
    assert exported.count('"connection.update"') == 2
    assert exported.count('"connection.delete"') == 1


def test_validation_errors_are_listed(env: dict[str, str], tmp_path: Path) -> None:
    """A configuration the spec refuses prints each error the API would list."""
    source(env, tmp_path)
    out = gh(
        env,
        "connect",
        "add",
        "mysql",
        "--tenant",
        "acme",
        "--name",
        "m",
        "--no-prompt",
        "-c",
        "port=notaport",
        code=2,
    )
    assert "does not match the mysql connector's spec" in out
    assert "host" in out and "port" in out
    assert "see errors" not in out
