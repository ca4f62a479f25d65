"""`check` against a real slapd: success over each transport, and every kind of failure."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from gatehouse.connectors.builtin.ldap import LdapConnector
from gatehouse.connectors.environment import Environment, using
from gatehouse.connectors.protocol import CheckFailure, CheckResult
from tests.connectors.ldap import tree
from tests.connectors.ldap.conftest import LOOPBACK
from tests.connectors.ldap.directory import Directory


def leaks(result: CheckResult, *secrets: str) -> bool:
    """Whether a secret appears anywhere in a check result."""
    text = f"{result.message} {dict(result.details)!r}"
    return any(s in text for s in secrets)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_plain_starttls_and_ldaps(
    connector: LdapConnector, directory: Directory, openldap: dict[str, Any], ad: dict[str, Any]
) -> None:
    """A working configuration binds, finds the base and samples users and groups."""
    for config in (
        openldap,
        ad,
        {**openldap, "urls": [directory.ldaps_uri], "ca_pem": directory.certs.ca_pem},
    ):
        result = await connector.check(config)
        assert result.ok, result.message
        assert result.details["sample_users"] > 0
        assert result.details["backend"] == config["backend"]
        assert not leaks(result, config["password"])
    assert (await connector.check(ad)).details["tls"] is True
    assert (await connector.check(openldap)).details["server_side_sort"] is True


async def test_wrong_password(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """Invalid credentials are `auth`, and the message says what to check."""
    result = await connector.check({**openldap, "password": "not-the-password"})
    assert result.failure is CheckFailure.auth
    assert "49" in result.message and "bind_dn and password" in result.message
    assert not leaks(result, "not-the-password")


async def test_unknown_bind_dn(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """A bind DN that does not exist is `auth` too."""
    result = await connector.check({**openldap, "bind_dn": f"uid=nobody,{tree.SERVICES}"})
    assert result.failure is CheckFailure.auth


async def test_nothing_listening(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """A closed port is `unreachable`; a later URL in the list is tried as a fail-over."""
    dead = f"ldap://127.0.0.1:{closed_port()}"
    result = await connector.check({**openldap, "urls": [dead]})
    assert result.failure is CheckFailure.unreachable
    assert dead in result.message
    fallback = await connector.check({**openldap, "urls": [dead, *openldap["urls"]]})
    assert fallback.ok, fallback.message


async def test_unresolvable_host(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """A host name that does not resolve is `unreachable`."""
    result = await connector.check({**openldap, "urls": ["ldap://no-such-host.invalid"]})
    assert result.failure is CheckFailure.unreachable
    assert "resolve" in result.message


async def test_outbound_guard(openldap: dict[str, Any]) -> None:
    """Loopback is refused unless the environment's allow-list names it."""
    refused = await LdapConnector().check(openldap)  # no environment set: the strictest
    assert refused.failure is CheckFailure.unreachable
    assert "GATEHOUSE_OUTBOUND_ALLOW" in refused.message
    other = await LdapConnector(Environment((LOOPBACK[1],))).check(openldap)  # ::1 only
    assert other.failure is CheckFailure.unreachable
    with using(Environment((LOOPBACK[0],))):
        assert (await LdapConnector().check(openldap)).ok


async def test_untrusted_certificate(
    connector: LdapConnector, directory: Directory, openldap: dict[str, Any]
) -> None:
    """A certificate from a CA we were not told to trust is `tls`, over ldaps and StartTLS."""
    for config in (
        {**openldap, "urls": [directory.ldaps_uri], "ca_pem": directory.certs.other_ca_pem},
        {
            **openldap,
            "urls": [directory.tls_uri],
            "start_tls": True,
            "ca_pem": directory.certs.other_ca_pem,
        },
        {**openldap, "urls": [directory.ldaps_uri]},  # the system store does not know our CA
    ):
        result = await connector.check(config)
        assert result.failure is CheckFailure.tls, result.message
        assert "ca_pem" in result.message


async def test_host_name_mismatch(
    connector: LdapConnector, directory: Directory, openldap: dict[str, Any]
) -> None:
    """The certificate is for localhost: reaching it as 127.0.0.1 is a TLS failure..."""
    port = directory.ldaps_uri.rsplit(":", 1)[1]
    config = {**openldap, "urls": [f"ldaps://127.0.0.1:{port}"], "ca_pem": directory.certs.ca_pem}
    result = await connector.check(config)
    assert result.failure is CheckFailure.tls, result.message
    relaxed = await connector.check({**config, "tls_verify": "none"})  # ...unless told not to
    assert relaxed.ok, relaxed.message


async def test_tls_to_a_plain_port(
    connector: LdapConnector, directory: Directory, openldap: dict[str, Any]
) -> None:
    """ldaps:// to the plain LDAP port fails the handshake: `tls`."""
    port = directory.uri.rsplit(":", 1)[1]
    config = {**openldap, "urls": [f"ldaps://localhost:{port}"], "ca_pem": directory.certs.ca_pem}
    result = await connector.check(config)
    assert result.failure is CheckFailure.tls, result.message


async def test_missing_base(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """A base DN that does not exist is `config`, naming what does exist."""
    result = await connector.check({**openldap, "base_dn": f"ou=nowhere,{tree.OPENLDAP_BASE}"})
    assert result.failure is CheckFailure.config
    assert f"nearest existing entry is {tree.OPENLDAP_BASE}" in result.message
    outside = await connector.check({**openldap, "base_dn": "dc=elsewhere,dc=net"})
    assert outside.failure is CheckFailure.config
    assert tree.OPENLDAP_BASE in outside.message
    users = await connector.check({**openldap, "user_base_dn": f"ou=gone,{tree.OPENLDAP_BASE}"})
    assert users.failure is CheckFailure.config


async def test_no_read_access(connector: LdapConnector, openldap: dict[str, Any]) -> None:
    """An account the ACLs keep out binds but sees nothing: `permission`."""
    result = await connector.check(
        {**openldap, "bind_dn": tree.BLIND_DN, "password": tree.BLIND_PASSWORD}
    )
    assert result.failure is CheckFailure.permission, result.message
    assert "read access" in result.message


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"urls": ["http://example.org"]}, "not an ldap:// or ldaps:// URL"),
        ({"urls": []}, "urls"),
        ({"base_dn": ""}, "base_dn"),
        ({"password": None}, "without a password"),
        ({"user_filter": "department=IT"}, "not a parenthesized LDAP filter"),
        ({"page_size": 0}, "page_size"),
        ({"group_filter": "(&(a=1)"}, "not a parenthesized LDAP filter"),
        ({"user_filter": "(=broken)"}, "not a parenthesized LDAP filter"),
        ({"flavor": "novell"}, "flavor"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_configuration(
    connector: LdapConnector, openldap: dict[str, Any], change: dict[str, Any], words: str
) -> None:
    """Invalid configurations fail as `config` naming the field, before any connection."""
    result = await connector.check({**openldap, **change})
    assert result.failure is CheckFailure.config
    assert words in result.message
    assert not leaks(result, openldap["password"])
