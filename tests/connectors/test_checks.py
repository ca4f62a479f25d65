"""Check failures, each caused for real: wrong password or user, unknown database, refused or
forbidden hosts, TLS refused or untrusted, missing SELECT permission, unsafe file paths."""

import asyncio
import ipaddress
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import asyncmy
import asyncpg
import pytest

from gatehouse.connections import runner
from gatehouse.connectors.environment import Environment
from gatehouse.connectors.protocol import CheckFailure
from tests.connectors.conftest import LOOPBACK, Source
from tests.connectors.tlsproxy import authority, pem, server_context, tls_postgres

ALLOW = Environment(LOOPBACK)
ROLE = f"gh_norights_{os.getpid()}"


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def check(
    kind: str, config: dict, env: Environment = ALLOW, seconds: float = 10
) -> runner.Checked:
    """Check a configuration the way the API does."""
    return await runner.check(kind, config, env, seconds)


@pytest.fixture
async def pg(pg_source_db: str) -> dict:
    """A working PostgreSQL configuration over a database with a table to see."""
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=pg_source_db)
    await conn.execute("CREATE TABLE IF NOT EXISTS probe (id int primary key)")
    await conn.close()
    return {
        "host": "127.0.0.1",
        "database": pg_source_db,
        "user": "postgres",
        "tls_mode": "disable",
    }


@pytest.fixture
def my(my_source_db: str) -> dict:
    """A working MariaDB configuration."""
    return {"host": "127.0.0.1", "database": my_source_db, "user": "root", "tls_mode": "disable"}


async def test_postgres_failures_are_classified(pg: dict) -> None:
    """Unknown database and role, refused port, forbidden network, TLS not offered."""
    assert (await check("postgresql", pg)).result.ok
    cases = [
        ({**pg, "database": "no_such_db"}, ALLOW, CheckFailure.config, "no_such_db"),
        ({**pg, "user": "no_such_role"}, ALLOW, CheckFailure.auth, "no_such_role"),
        ({**pg, "port": free_port()}, ALLOW, CheckFailure.unreachable, "check host and port"),
        (pg, Environment(), CheckFailure.unreachable, "GATEHOUSE_OUTBOUND_ALLOW"),
        ({**pg, "host": "no-such-host.invalid"}, ALLOW, CheckFailure.unreachable, "resolve"),
        ({**pg, "tls_mode": "verify-full"}, ALLOW, CheckFailure.tls, "does not offer TLS"),
        ({**pg, "tls_mode": "require"}, ALLOW, CheckFailure.tls, "does not offer TLS"),
        ({**pg, "schema": "nowhere"}, ALLOW, CheckFailure.config, "no tables"),
    ]
    for config, env, failure, text in cases:
        checked = await check("postgresql", config, env)
        assert checked.result.failure is failure, (config, checked.result)
        assert text in checked.result.message
        assert checked.hint


@pytest.fixture
async def no_rights_role(pg: dict) -> AsyncIterator[str]:
    """A PostgreSQL role that may log in but read nothing."""
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=pg["database"])
    await conn.execute(f"DROP ROLE IF EXISTS {ROLE}")
    await conn.execute(f"CREATE ROLE {ROLE} LOGIN")
    await conn.execute("CREATE TABLE IF NOT EXISTS secret_table (id int primary key)")
    yield ROLE
    await conn.execute("DROP TABLE IF EXISTS secret_table")
    await conn.execute(f"DROP OWNED BY {ROLE}")
    await conn.execute(f"DROP ROLE IF EXISTS {ROLE}")
    await conn.close()


async def test_postgres_missing_select_is_permission(pg: dict, no_rights_role: str) -> None:
    """A role without SELECT fails with `permission` naming the table, and passes once granted."""
    config = {**pg, "user": no_rights_role, "tables": ["secret_table"]}
    checked = await check("postgresql", config)
    assert checked.result.failure is CheckFailure.permission
    assert "secret_table" in checked.result.message
    assert "grant" in checked.result.message.lower()
    query = {**pg, "user": no_rights_role, "queries": {"q": "SELECT id FROM secret_table"}}
    assert (await check("postgresql", query)).result.failure is CheckFailure.permission
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=pg["database"])
    await conn.execute(f"GRANT SELECT ON secret_table TO {no_rights_role}")
    await conn.close()
    assert (await check("postgresql", config)).result.ok


async def test_postgres_verify_full_through_tls(pg: dict) -> None:
    """verify-full trusts only the given CA and the configured name, on a real handshake."""
    ca = authority("Test CA")
    async with tls_postgres(server_context(ca, ["127.0.0.1"])) as port:
        good = {**pg, "port": port, "tls_mode": "verify-full", "tls_ca_pem": pem(ca[1])}
        checked = await check("postgresql", good)
        assert checked.result.ok, checked.result.message
        other = {**good, "tls_ca_pem": pem(authority("Other CA")[1])}
        refused = await check("postgresql", other)
        assert refused.result.failure is CheckFailure.tls
        assert "tls_ca_pem" in refused.result.message
        assert (await check("postgresql", {**good, "tls_mode": "require"})).result.ok
        broken = await check("postgresql", {**good, "tls_ca_pem": "not a pem"})
        assert broken.result.failure is CheckFailure.tls
    async with tls_postgres(server_context(ca, ["db.internal.example"])) as port:
        wrong_name = {**pg, "port": port, "tls_mode": "verify-full", "tls_ca_pem": pem(ca[1])}
        checked = await check("postgresql", wrong_name)
        assert checked.result.failure is CheckFailure.tls
        assert "host name the certificate was issued for" in checked.result.message
    both = Environment((*LOOPBACK, ipaddress.ip_network("::1/128")))
    async with tls_postgres(server_context(ca, ["localhost"])) as port:
        named = {**pg, "host": "localhost", "port": port, "tls_mode": "verify-full"}
        checked = await check("postgresql", {**named, "tls_ca_pem": pem(ca[1])}, both)
        assert checked.result.ok, checked.result.message  # the socket goes to the checked IP


@pytest.fixture
async def my_users(my: dict) -> AsyncIterator[tuple[str, str]]:
    """A MariaDB user with a password and SELECT, and one that may only INSERT."""
    db = my["database"]
    reader, writer = f"gh_reader_{os.getpid()}", f"gh_writer_{os.getpid()}"
    conn = await asyncmy.connect(host="127.0.0.1", user="root", password="", database=db)
    async with conn.cursor() as cur:
        await cur.execute("CREATE TABLE IF NOT EXISTS people (id INT PRIMARY KEY)")
        for user in (reader, writer):
            await cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            await cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'Right-Pass-1'")
        await cur.execute(f"GRANT SELECT ON `{db}`.* TO '{reader}'@'%'")
        await cur.execute(f"GRANT INSERT ON `{db}`.people TO '{writer}'@'%'")
    yield reader, writer
    async with conn.cursor() as cur:
        for user in (reader, writer):
            await cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    conn.close()


async def test_mysql_failures_are_classified(my: dict, my_users: tuple[str, str]) -> None:
    """Wrong password, unknown database, refused port, TLS not offered, no SELECT."""
    reader, writer = my_users
    good = {**my, "user": reader, "password": "Right-Pass-1"}
    checked = await check("mysql", good)
    assert checked.result.ok, checked.result.message
    cases = [
        ({**good, "password": "wrong"}, CheckFailure.auth, "password"),
        ({**my, "database": "no_such_db"}, CheckFailure.config, "no_such_db"),
        ({**my, "port": free_port()}, CheckFailure.unreachable, "check host and port"),
        ({**my, "tls_mode": "verify-full"}, CheckFailure.tls, "does not offer TLS"),
        (
            {**my, "user": writer, "password": "Right-Pass-1", "tables": ["people"]},
            CheckFailure.permission,
            "people",
        ),
    ]
    for config, failure, text in cases:
        checked = await check("mysql", config)
        assert checked.result.failure is failure, (config, checked.result)
        assert text in checked.result.message
        assert "Right-Pass-1" not in checked.result.message


async def test_sqlite_paths_are_confined(tmp_path: Path) -> None:
    """Only files under a source directory open; a missing file or a non-database is config."""
    roots = tmp_path / "sources"
    roots.mkdir()
    env = Environment(file_roots=(roots,))
    outside = tmp_path / "gatehouse.db"
    outside.write_bytes(b"")
    (roots / "notes.db").write_text("not a database at all, just some text" * 10)
    cases = [
        (str(outside), "GATEHOUSE_SOURCE_ROOTS"),
        (str(roots / ".." / "gatehouse.db"), "GATEHOUSE_SOURCE_ROOTS"),
        ("../gatehouse.db", "is not in this tenant's source directory"),
        (str(roots / "missing.db"), "no SQLite database missing.db in this tenant's"),
        ("notes.db", "not a readable SQLite database"),
        (str(roots / "notes.db"), "not a readable SQLite database"),
    ]
    for path, text in cases:
        checked = await check("sqlite", {"path": path}, env)
        assert checked.result.failure is CheckFailure.config, (path, checked.result)
        assert text in checked.result.message


async def test_check_is_bounded_by_the_timeout(source: Source) -> None:
    """A server that accepts and never answers ends as `timeout`, not a hang."""
    if source.kind == "sqlite":
        pytest.skip("no network")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        checked = await check(source.kind, {**source.config, "port": port}, seconds=0.3)
    finally:
        server.close()
    assert checked.result.failure is CheckFailure.timeout
    assert "GATEHOUSE_CONNECTOR_CHECK_TIMEOUT" in str(checked.hint)
