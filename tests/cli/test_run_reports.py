"""What `import` and `sync run` report: written and would-be counts apart, every row read."""

import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_cli import env, gh
from tests.cli.test_connect_fix import source

pytestmark = pytest.mark.xdist_group("cli")
__all__ = ["env"]
MAPPING = (
    '{"kind": "identity", "external_id": "email", "fields": {"user_name": "email", '
    '"email": {"from": "email", "steps": ["email"]}}}'
)


def test_failed_all_or_nothing_import_reports_nothing_written(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A refused import shows 0 created, what it would have written, and reads the bad row."""
    gh(env, "db", "upgrade")
    gh(env, "tenant", "create", "acme")
    people = tmp_path / "people.csv"
    people.write_text('email\na@example.com\nb@example.com\nc@example.com\n"d@example.com\n')
    mapping = tmp_path / "mapping.json"
    mapping.write_text(MAPPING)
    out = gh(env, "import", str(people), "--tenant", "acme", "--mapping", str(mapping), code=1)
    head, _, would = out.partition("all or nothing: nothing written; it would have written:")
    assert would, out
    assert "│ identity │       0 │" in head  # created: nothing was written
    assert "│    4 │" in head  # read: the malformed last row counts as read
    assert "│ identity │       3 │" in would


def test_sync_dry_run_says_nothing_was_written(env: dict[str, str], tmp_path: Path) -> None:
    """`sync run --dry-run` does not look like a real run."""
    db = source(env, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO employees VALUES (1, 'a@example.com')")
    gh(env, "connect", "add", "sqlite", "--tenant", "acme", "--name", "hr", "-c", f"path={db}")
    mapping = tmp_path / "streams.json"
    mapping.write_text('{"streams": {"employees": {"transform": ' + MAPPING + "}}}")
    assert "streams employees" in gh(
        env, "connect", "map", "hr", "--tenant", "acme", "--file", str(mapping)
    )
    out = gh(env, "sync", "run", "hr", "--tenant", "acme", "--dry-run")
    assert "succeeded" in out and "dry run: nothing written; it would have written:" in out
