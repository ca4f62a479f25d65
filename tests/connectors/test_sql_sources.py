"""The SQL connectors against real PostgreSQL, MariaDB and SQLite: discover, read, resume."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gatehouse.connectors.protocol import (
    ConnectorError,
    SchemaChanged,
    Selection,
    Sensitivity,
    SyncMode,
)
from tests.connectors.conftest import Source

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stamp(source: Source, minutes: int) -> Any:
    """A timestamp value as the dialect stores it."""
    value = T0 + timedelta(minutes=minutes)
    if source.kind == "postgresql":
        return value
    text = value.replace(tzinfo=None).isoformat(sep=" ")
    return text if source.kind == "sqlite" else value.replace(tzinfo=None)


async def people(source: Source, count: int, same_time: bool = False) -> None:
    """A `users` table of `count` people."""
    rows = [
        (i, f"user{i}@example.com", f"User {i}", 1000 + i, stamp(source, 0 if same_time else i))
        for i in range(1, count + 1)
    ]
    await source.table(
        "users",
        f"id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL, name VARCHAR(200), "
        f"salary NUMERIC(10, 2), updated_at {source.ts} NOT NULL",
        rows,
    )


def ids(batches: list[Any]) -> list[int]:
    """Every record's id, in read order."""
    return [r["id"] for b in batches for r in b.records]


async def test_check_and_discover(source: Source) -> None:
    """Tables, views and queries are streams with types, keys, cursors, kinds, sensitivity."""
    await people(source, 3)
    await source.table(
        "group_members",
        "group_id INTEGER NOT NULL, user_id INTEGER NOT NULL, PRIMARY KEY (group_id, user_id)",
    )
    await source.run("CREATE VIEW active_users AS SELECT id, email FROM users")
    config = {
        **source.config,
        "queries": {"rich": "SELECT id, salary FROM users WHERE salary > 1001;"},
    }
    result = await source.connector().check(config)
    assert result.ok, result.message
    assert result.details["streams"] == 4
    streams = {s.name: s for s in await source.connector().discover(config)}
    assert set(streams) == {"users", "group_members", "active_users", "rich"}
    users = streams["users"]
    fields = {f.name: f for f in users.fields}
    assert (fields["id"].type, fields["id"].nullable) == ("integer", False)
    assert fields["email"].type == "string"
    assert fields["name"].nullable
    assert fields["salary"].type == "number"
    assert (fields["updated_at"].type, fields["updated_at"].format) == ("string", "date-time")
    assert users.primary_key == ("id",)
    assert users.cursor_candidates[0] == "updated_at"
    assert users.kind == "identity"
    assert fields["salary"].sensitivity is Sensitivity.restricted
    assert fields["email"].sensitivity is Sensitivity.confidential
    assert SyncMode.incremental in users.supported_modes
    assert streams["group_members"].primary_key == ("group_id", "user_id")
    assert streams["group_members"].kind == "membership"
    assert [f.name for f in streams["active_users"].fields] == ["id", "email"]
    rich = {f.name: f for f in streams["rich"].fields}
    assert list(rich) == ["id", "salary"]
    assert rich["id"].type == "integer"
    rows = await source.read("rich", config=config)
    assert sorted(r["id"] for b in rows for r in b.records) == [2, 3]


async def test_full_refresh_in_batches_resumes_from_checkpoint(source: Source) -> None:
    """Keyset pages by primary key; a restarted read resumes after the last checkpoint."""
    await people(source, 23)
    config = {**source.config, "batch_size": 5}
    batches = await source.read("users", config=config)
    assert [len(b.records) for b in batches] == [5, 5, 5, 5, 3]
    assert ids(batches) == list(range(1, 24))
    assert batches[1].state is not None
    resumed = await source.read("users", state=batches[1].state, config=config)
    assert ids(resumed) == list(range(11, 24))
    picked = await source.read("users", selection=Selection(fields=("email",)), config=config)
    assert set(picked[0].records[0]) == {"email", "id"}


async def test_incremental_reads_only_changes_and_never_splits_ties(source: Source) -> None:
    """Rows sharing a cursor value across batch borders are read once, none skipped."""
    await people(source, 12, same_time=True)
    config = {**source.config, "batch_size": 5}
    first = await source.read("users", SyncMode.incremental, config=config)
    assert ids(first) == list(range(1, 13))
    state = first[-1].state
    assert state is not None
    assert await source.read("users", SyncMode.incremental, state, config=config) == []
    later = stamp(source, 60)
    await source.run(
        f"UPDATE users SET name = 'Changed', updated_at = {source.param(0)} WHERE id IN (3, 7)",
        [(later,)],
    )
    await source.run(
        f"INSERT INTO users VALUES ({', '.join(source.param(i) for i in range(5))})",
        [(13, "new@example.com", "New", 1, later)],
    )
    changed = await source.read("users", SyncMode.incremental, state, config=config)
    assert ids(changed) == [3, 7, 13]
    assert {r["name"] for b in changed for r in b.records} == {"Changed", "New"}


async def test_keyless_streams_read_bounded_and_streamed(source: Source) -> None:
    """A view without a key: incremental reads take whole cursor ties; full reads stream."""
    await people(source, 9, same_time=False)
    first = stamp(source, 1)
    await source.run(f"UPDATE users SET updated_at = {source.param(0)} WHERE id <= 4", [(first,)])
    await source.run("CREATE VIEW recent AS SELECT id, email, updated_at FROM users")
    config = {**source.config, "batch_size": 3}
    incremental = await source.read("recent", SyncMode.incremental, config=config)
    assert len(incremental[0].records) == 4  # the four tied rows come together
    assert sorted(ids(incremental)) == list(range(1, 10))
    full = await source.read("recent", config=config)
    assert sorted(ids(full)) == list(range(1, 10))
    assert all(b.state is None for b in full)


async def test_schema_change_names_the_missing_field(source: Source) -> None:
    """A field the mapping needs that the source lost is SchemaChanged naming it."""
    await people(source, 2)
    assert ids(await source.read("users", selection=Selection(fields=("email", "salary"))))
    await source.run("ALTER TABLE users DROP COLUMN salary")
    with pytest.raises(SchemaChanged, match="field\\(s\\) phone, salary"):
        await source.read("users", selection=Selection(fields=("email", "salary", "phone")))
    with pytest.raises(SchemaChanged, match="'payroll'"):
        await source.read("payroll")
    await source.table("plain", "label VARCHAR(20)", [("x",)])
    with pytest.raises(ConnectorError, match="cursor"):
        await source.read("plain", SyncMode.incremental)


async def test_names_cannot_inject_sql(source: Source) -> None:
    """Stream and field names come from discovery and are quoted: odd names work, tricks fail."""
    quote = "`" if source.kind == "mysql" else '"'
    weird = f'{quote}we"ird name{quote}' if source.kind == "mysql" else '"we""ird name"'
    await source.table(
        weird, f"{quote}id; x{quote} INTEGER PRIMARY KEY, v VARCHAR(10)", [(1, "a"), (2, "b")]
    )
    await people(source, 1)
    batches = await source.read('we"ird name')
    assert [r["id; x"] for b in batches for r in b.records] == [1, 2]
    for trick in ("users; DROP TABLE users", 'users" --', "users WHERE 1=1 --"):
        with pytest.raises(SchemaChanged):
            await source.read(trick)
    with pytest.raises(SchemaChanged):
        await source.read(
            "users", selection=Selection(fields=("id FROM users; DROP TABLE users --",))
        )
    assert ids(await source.read("users")) == [1]
