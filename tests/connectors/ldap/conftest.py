"""A real slapd per test worker, configurations for both directories, and read helpers."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gatehouse.connectors.builtin.ldap import LdapConnector
from gatehouse.connectors.environment import Environment
from gatehouse.connectors.protocol import Batch, SyncMode
from tests.conftest import service_missing
from tests.connectors.ldap import tree
from tests.connectors.ldap.directory import Directory, slapd_missing

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
BACKENDS = ["ldap3", "python-ldap"]


@pytest.fixture(scope="session")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    """slapd with the OpenLDAP and AD trees, for this test worker."""
    missing = slapd_missing()
    if missing:
        service_missing("OpenLDAP slapd", missing)
    server = Directory(tmp_path_factory.mktemp("ldap"))
    server.start()
    try:
        server.add(tree.OPENLDAP_TREE)
        server.add(tree.AD_TREE)
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest) -> str:
    """The client library under test."""
    return str(request.param)


@pytest.fixture
def connector() -> LdapConnector:
    """The connector, allowed to reach loopback."""
    return LdapConnector(Environment(LOOPBACK))


@pytest.fixture
def openldap(directory: Directory, client: str) -> dict[str, Any]:
    """A configuration for the OpenLDAP tree over plain LDAP."""
    return {
        "urls": [directory.uri],
        "bind_dn": tree.READER_DN,
        "password": tree.READER_PASSWORD,
        "base_dn": tree.OPENLDAP_BASE,
        "user_base_dn": tree.PEOPLE,
        "backend": client,
    }


@pytest.fixture
def ad(directory: Directory, client: str) -> dict[str, Any]:
    """A configuration for the AD-shaped tree, over StartTLS."""
    return {
        "urls": [directory.tls_uri],
        "start_tls": True,
        "ca_pem": directory.certs.ca_pem,
        "flavor": "active_directory",
        "bind_dn": tree.SVC_DN,
        "password": tree.SVC_PASSWORD,
        "base_dn": tree.AD_BASE,
        "user_base_dn": tree.STAFF,
        "backend": client,
    }


@pytest.fixture
def sandbox(directory: Directory) -> Iterator[str]:
    """An empty OU of the OpenLDAP tree for one test's own entries."""
    dn = f"ou=t{uuid.uuid4().hex[:12]},{tree.OPENLDAP_BASE}"
    directory.add(f"dn: {dn}\nobjectClass: organizationalUnit\nou: {dn[3:16]}\n")
    yield dn
    directory.ldapdelete(dn, recursive=True)


def person(uid: str, parent: str, **extra: str) -> str:
    """LDIF for an inetOrgPerson."""
    lines = [f"dn: uid={uid},{parent}", "objectClass: inetOrgPerson", f"uid: {uid}"]
    lines += [f"cn: {uid.title()}", f"sn: {uid}"] + [f"{k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


async def read_all(
    connector: LdapConnector,
    config: dict[str, Any],
    stream: str,
    mode: SyncMode = SyncMode.full_refresh,
    state: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[Batch]]:
    """Every record of a read, and its batches."""
    batches = [b async for b in connector.read(config, stream, mode, state)]
    return [r for b in batches for r in b.records], batches


def by(records: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """Records keyed by one of their fields."""
    return {r[key]: r for r in records}
