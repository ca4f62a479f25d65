"""sync_ldap: 50,000 entries read from slapd by the LDAP connector vs a raw paged search.

Starts its own slapd (the test directory: tests/connectors/ldap/directory.py), bulk-loads the
entries offline with slapadd, then, for each client library (python-ldap, ldap3), alternates
a raw RFC 2696 paged search with the library's plainest API and the connector's `read` of the
`users` stream through that library (same attributes, same page size). Best of ROUNDS each.
Targets: connector >= 70% of the raw rate; >= 15,000 entries/s with python-ldap.

`batches()` yields the connector's batches; the store-writing part of this benchmark (once the
sync engine exists) consumes it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from _common import cpu_sets, emit, log, pinned

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test directory's slapd set-up is shared, not copied

from gatehouse.connectors.builtin.ldap import LdapConnector  # noqa: E402
from gatehouse.connectors.builtin.ldap.settings import parse  # noqa: E402
from gatehouse.connectors.builtin.ldap.streams import query  # noqa: E402
from gatehouse.connectors.environment import Environment  # noqa: E402
from gatehouse.connectors.protocol import Batch, SyncMode  # noqa: E402
from tests.connectors.ldap.directory import OPENLDAP_BASE, Directory  # noqa: E402

BENCH = "sync_ldap"
ENTRIES = int(os.environ.get("BENCH_LDAP_ENTRIES", "50000"))
PAGE = int(os.environ.get("BENCH_LDAP_PAGE", "500"))
ROUNDS = int(os.environ.get("BENCH_LDAP_ROUNDS", "3"))
PEOPLE = f"ou=people,{OPENLDAP_BASE}"
READER = f"uid=reader,{OPENLDAP_BASE}"
PASSWORD = "bench-reader"  # noqa: S105 (a throwaway directory)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
TARGETS = {"ratio": 0.7, "python-ldap_rps": 15_000.0}


def seed(entries: int) -> str:
    """LDIF for the base, a reader account and `entries` people with a dozen attributes."""
    head = (
        f"dn: {OPENLDAP_BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
        f"o: Example\n\ndn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"
        f"dn: {READER}\nobjectClass: inetOrgPerson\nuid: reader\ncn: reader\nsn: reader\n"
        f"userPassword: {PASSWORD}\n\n"
    )
    people = (
        f"dn: uid=user{n:06d},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: user{n:06d}\n"
        f"cn: User {n}\nsn: Number{n}\ngivenName: User\ndisplayName: User Number {n}\n"
        f"mail: user{n:06d}@example.org\nemployeeNumber: {100000 + n}\n"
        f"telephoneNumber: +1 555 {n % 10000:04d}\ntitle: Engineer\n"
        f"departmentNumber: D{n % 40:02d}\nl: City {n % 97}\n\n"
        for n in range(entries)
    )
    return head + "".join(people)


def config(directory: Directory, backend: str) -> dict[str, Any]:
    """The connector configuration for one client library."""
    return {
        "urls": [directory.uri],
        "bind_dn": READER,
        "password": PASSWORD,
        "base_dn": OPENLDAP_BASE,
        "user_base_dn": PEOPLE,
        "page_size": PAGE,
        "backend": backend,
    }


async def batches(cfg: dict[str, Any], stream: str = "users") -> AsyncIterator[Batch]:
    """The connector's batches of one full read."""
    connector = LdapConnector(Environment(LOOPBACK))
    async for batch in connector.read(cfg, stream, SyncMode.full_refresh, None):
        yield batch


async def connector_read(cfg: dict[str, Any]) -> int:
    """Records of one full read through the connector (each batch dropped once counted)."""
    count = 0
    async for batch in batches(cfg):
        count += len(batch.records)
    return count


def raw_python_ldap(cfg: dict[str, Any]) -> int:
    """Entries of a raw paged search with python-ldap."""
    import ldap
    from ldap.controls.libldap import SimplePagedResultsControl

    q = query(parse(cfg), "users")
    conn = ldap.initialize(cfg["urls"][0])
    conn.simple_bind_s(cfg["bind_dn"], cfg["password"])
    control = SimplePagedResultsControl(True, size=PAGE, cookie=b"")
    count = 0
    while True:
        msgid = conn.search_ext(
            q.base, ldap.SCOPE_SUBTREE, q.filter, list(q.attributes), serverctrls=[control]
        )
        _, data, _, answers = conn.result3(msgid)
        count += len(data)
        control.cookie = next(a.cookie for a in answers if a.controlType == control.controlType)
        if not control.cookie:
            break
    conn.unbind_s()
    return count


def raw_ldap3(cfg: dict[str, Any]) -> int:
    """Entries of a raw paged search with ldap3."""
    import ldap3

    q = query(parse(cfg), "users")
    host, port = cfg["urls"][0].removeprefix("ldap://").split(":")
    server = ldap3.Server(host, port=int(port), get_info=ldap3.NONE)
    conn = ldap3.Connection(server, cfg["bind_dn"], cfg["password"], auto_bind=True)
    count, cookie = 0, None
    while True:
        conn.search(
            q.base, q.filter, attributes=list(q.attributes), paged_size=PAGE, paged_cookie=cookie
        )
        count += len(conn.response)
        cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
        if not cookie:
            break
    conn.unbind()
    return count


def timed(run: Callable[[], int]) -> float:
    """Entries per second of one run; it must see every entry."""
    started = time.perf_counter()
    count = run()
    elapsed = time.perf_counter() - started
    if count != ENTRIES:
        raise SystemExit(f"{BENCH}: read {count} entries, expected {ENTRIES}")
    return count / elapsed


def measure(directory: Directory, backend: str) -> dict[str, Any]:
    """Best raw and connector rates of ROUNDS alternating rounds."""
    cfg = config(directory, backend)
    raw_run = raw_python_ldap if backend == "python-ldap" else raw_ldap3
    raw, conn = [], []
    for round_ in range(ROUNDS):
        raw.append(timed(lambda: raw_run(cfg)))
        conn.append(timed(lambda: asyncio.run(connector_read(cfg))))
        log(f"{backend} round {round_ + 1}: raw {raw[-1]:,.0f}/s, connector {conn[-1]:,.0f}/s")
    best_raw, best_conn = max(raw), max(conn)
    return {
        "backend": backend,
        "connector_rps": round(best_conn),
        "raw_rps": round(best_raw),
        "ratio": round(best_conn / best_raw, 3),
    }


USERS_MAPPING = {
    "kind": "identity",
    "external_id": "id",
    "fields": {
        "user_name": "uid",
        "email": {"from": "mail", "steps": ["email"]},
        "given_name": "givenName",
        "family_name": "sn",
        "display_name": "displayName",
        "employee_number": "employeeNumber",
        "title": "title",
        "department": "departmentNumber[0]",
    },
}


async def into_store(cfg: dict[str, Any], home: Path) -> float:
    """Entries per second of a full sync of `users` into a fresh SQLite store."""
    from gatehouse.audit.context import Actor
    from gatehouse.db import migrate
    from gatehouse.db.engine import Database
    from gatehouse.sync import runs
    from gatehouse.sync.engine import Runner, Settings
    from gatehouse.sync.mapping import stream_transform
    from gatehouse.sync.plan import Job, StreamPlan
    from gatehouse.tenants.schemas import TenantCreate
    from gatehouse.tenants.service import create_tenant

    db = Database(f"sqlite+aiosqlite:///{home / 'store.db'}")
    await migrate.upgrade(db.engine)
    async with db.transaction() as session:
        await create_tenant(
            session, Actor("platform", "bench"), TenantCreate(id="bench", name="bench")
        )
        queued = await runs.enqueue(
            session, "bench", "ldap", mode=SyncMode.full_refresh, trigger="api"
        )
        run_id = queued.id
    claimed = await runs.claim(db, "bench", 600, run_id)
    assert claimed is not None
    job = Job(
        tenant_id="bench",
        connection_id="ldap",
        source="ldap",
        connector=LdapConnector(Environment(LOOPBACK)),
        config=cfg,
        streams=[StreamPlan("users", "identity", stream_transform(USERS_MAPPING))],
    )
    started = time.perf_counter()
    tally = await Runner(db, job, claimed[1], Settings(lease_seconds=600)).execute()
    elapsed = time.perf_counter() - started
    await db.dispose()
    created = tally.counts.get("identity", {}).get("created", 0)
    if created != ENTRIES:
        raise SystemExit(f"{BENCH}: created {created}: {tally.counts} {tally.samples[:2]}")
    return ENTRIES / elapsed


def main() -> None:
    """Load, measure each backend, print one JSON line."""
    server_cpus, client_cpus = cpu_sets()
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-ldap-") as home:
        directory = Directory(Path(home), seed={OPENLDAP_BASE: seed(ENTRIES)})
        started = time.perf_counter()
        with pinned(server_cpus):
            directory.start()
        load_s = time.perf_counter() - started
        log(f"slapd up with {ENTRIES:,} entries in {load_s:.1f} s")
        try:
            with pinned(client_cpus):
                results = [measure(directory, b) for b in ("python-ldap", "ldap3")]
                store_rps = asyncio.run(into_store(config(directory, "python-ldap"), Path(home)))
            log(f"python-ldap into the store: {store_rps:,.0f} entries/s")
        finally:
            directory.stop()
    fast = results[0]
    emit(
        {
            "bench": BENCH,
            "entries": ENTRIES,
            "page_size": PAGE,
            "load_s": round(load_s, 2),
            **fast,
            "store_rps": round(store_rps),
            "store_ratio": round(store_rps / fast["raw_rps"], 3),
            "backends": results,
            "targets": TARGETS,
            "met": fast["connector_rps"] >= TARGETS["python-ldap_rps"]
            and all(r["ratio"] >= TARGETS["ratio"] for r in results),
            "pinned": server_cpus is not None,
        }
    )


if __name__ == "__main__":
    main()
