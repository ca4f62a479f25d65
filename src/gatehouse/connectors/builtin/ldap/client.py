"""The small interface both LDAP client libraries sit behind, their errors, and how to connect.

A `Session` is blocking (both libraries are); callers run it in a thread. Connecting goes
through the outbound guard twice: every address the host resolves to is checked before the
socket opens, and the connected peer is checked again before any credential is sent.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from gatehouse.connectors.builtin.ldap.settings import LdapSettings
from gatehouse.connectors.builtin.ldap.values import Entry
from gatehouse.connectors.environment import Environment, network_address
from gatehouse.connectors.protocol import CheckFailure, ConnectorError
from gatehouse.kit.outbound import OutboundBlockedError, check_peer

Scope = Literal["base", "one", "sub"]

# LDAP result codes (RFC 4511) and what they mean for the person configuring the source.
RESULT_FAILURES: dict[int, CheckFailure] = {
    3: CheckFailure.timeout,  # timeLimitExceeded
    4: CheckFailure.config,  # sizeLimitExceeded
    7: CheckFailure.config,  # authMethodNotSupported
    8: CheckFailure.tls,  # strongerAuthRequired
    12: CheckFailure.config,  # unavailableCriticalExtension
    13: CheckFailure.tls,  # confidentialityRequired
    32: CheckFailure.config,  # noSuchObject
    34: CheckFailure.config,  # invalidDNSyntax
    48: CheckFailure.auth,  # inappropriateAuthentication
    49: CheckFailure.auth,  # invalidCredentials
    50: CheckFailure.permission,  # insufficientAccessRights
    51: CheckFailure.unreachable,  # busy
    52: CheckFailure.unreachable,  # unavailable
    53: CheckFailure.auth,  # unwillingToPerform (e.g. unauthenticated bind refused)
    87: CheckFailure.config,  # filterError (libldap's local -7 is mapped here too)
}
TRANSIENT_CODES = frozenset({3, 51, 52})
# Active Directory's "data NNN" in a bind error's diagnostic message.
AD_BIND_REASONS = {
    "525": "the user does not exist",
    "52e": "the password is wrong",
    "530": "the account may not log on at this time",
    "531": "the account may not log on from this workstation",
    "532": "the password has expired",
    "533": "the account is disabled",
    "701": "the account has expired",
    "773": "the password must be changed before logging on",
    "775": "the account is locked out",
}
_AD_DATA = re.compile(r"data ([0-9a-f]{3,4})\b", re.IGNORECASE)


class LdapError(ConnectorError):
    """An LDAP operation failed; `code` is the LDAP result code when the server sent one."""

    def __init__(
        self,
        failure: CheckFailure,
        message: str,
        *,
        code: int | None = None,
        matched: str = "",
        transient: bool = False,
    ) -> None:
        super().__init__(failure, message, transient=transient)
        self.code = code
        self.matched = matched


def result_error(code: int, diagnostic: str, matched: str = "") -> LdapError:
    """The error for an LDAP result code and the server's diagnostic message."""
    failure = RESULT_FAILURES.get(code, CheckFailure.error)
    detail = diagnostic.strip()
    reason = _AD_DATA.search(detail)
    if code == 49 and reason and reason.group(1).lower() in AD_BIND_REASONS:
        detail = f"{AD_BIND_REASONS[reason.group(1).lower()]} ({detail})"
    message = f"LDAP result {code}" + (f": {detail}" if detail else "")
    return LdapError(
        failure, message, code=code, matched=matched, transient=code in TRANSIENT_CODES
    )


def unreachable(message: str) -> LdapError:
    """A connection that could not be made or was lost (worth retrying)."""
    return LdapError(CheckFailure.unreachable, message, transient=True)


@dataclass(frozen=True)
class Page:
    """One page of a paged search; `sorted` is None when no sort was asked for."""

    entries: list[Entry]
    sorted: bool | None


class Session(Protocol):
    """One connection to one server, used from one thread at a time."""

    backend: str

    def open(self) -> None:
        """Connect (TLS and StartTLS included) without sending credentials."""
        ...

    def peer(self) -> str:
        """The IP address the socket is connected to."""
        ...

    def bind(self) -> None:
        """Simple bind with the configured DN and password (or stay anonymous)."""
        ...

    def search(self, base: str, scope: Scope, filterstr: str, attrs: Sequence[str]) -> list[Entry]:
        """A small, unpaged search."""
        ...

    def pages(
        self, base: str, filterstr: str, attrs: Sequence[str], size: int, sort: str | None
    ) -> Generator[Page, None, None]:
        """A subtree search in RFC 2696 pages, optionally sorted by one attribute (RFC 2891)."""
        ...

    def close(self) -> None:
        """Unbind and close; never raises."""
        ...


SessionFactory = Callable[[LdapSettings, str], Session]


def backend_factory(settings: LdapSettings) -> SessionFactory:
    """python-ldap when installed (or asked for), else ldap3."""
    if settings.backend in ("auto", "python-ldap"):
        try:
            from gatehouse.connectors.builtin.ldap.via_libldap import LibldapSession
        except ImportError:
            if settings.backend == "python-ldap":
                raise LdapError(
                    CheckFailure.config,
                    "backend 'python-ldap' is not installed: pip install 'gatehouse[ldap-fast]' "
                    "(needs libldap2-dev and libsasl2-dev to build), or use backend 'auto'",
                ) from None
        else:
            return LibldapSession
    from gatehouse.connectors.builtin.ldap.via_ldap3 import Ldap3Session

    return Ldap3Session


def endpoint(url: str) -> tuple[str, int]:
    """Host and port of an ldap:// or ldaps:// URL."""
    parts = urlsplit(url)
    return str(parts.hostname), parts.port or (636 if parts.scheme == "ldaps" else 389)


def _establish(session: Session, host: str, env: Environment) -> None:
    session.open()
    try:
        check_peer(host, session.peer(), env.outbound_allow)
    except OutboundBlockedError as exc:
        raise LdapError(CheckFailure.unreachable, str(exc)) from None
    session.bind()


async def connect(
    settings: LdapSettings, env: Environment, factory: SessionFactory | None = None
) -> Session:
    """A bound session to the first server that answers (later URLs are fail-overs).

    The host name is checked by the outbound guard before connecting, and the connected peer
    again before the bind: libldap must connect by name for its TLS host-name check.
    """
    make = factory or backend_factory(settings)
    failures: list[str] = []
    blocked = 0
    for url in settings.urls:
        host, port = endpoint(url)
        try:
            await network_address(host, port, env)
        except ConnectorError as exc:
            blocked += not exc.transient
            failures.append(str(exc))
            continue
        session = make(settings, url)
        try:
            await asyncio.to_thread(_establish, session, host, env)
        except LdapError as exc:
            session.close()
            if exc.failure in (CheckFailure.unreachable, CheckFailure.timeout):
                failures.append(f"{url}: {exc}")
                continue
            raise
        return session
    raise LdapError(
        CheckFailure.unreachable,
        "no LDAP server answered: " + "; ".join(failures),
        transient=blocked < len(failures),
    )


def peer_of(sock: socket.socket) -> str:
    """The remote IP address of a connected socket."""
    return str(sock.getpeername()[0])


_RANGE = re.compile(r"^([^;]+);range=(\d+)-(\d+|\*)$", re.IGNORECASE)


def ranged(name: str) -> tuple[str, int, int | None] | None:
    """'member;range=0-1499' -> ('member', 0, 1499); '...-*' ends with None; else None."""
    match = _RANGE.match(name)
    if not match:
        return None
    end = match.group(3)
    return match.group(1), int(match.group(2)), None if end == "*" else int(end)


def complete_ranges(session: Session, entries: list[Entry]) -> None:
    """Fetch the rest of Active Directory's ranged values (groups over 1,500 members) in place."""
    for dn, attrs in entries:
        for name in [n for n in attrs if ";" in n]:
            parsed = ranged(name)
            if parsed is None:
                continue
            attribute, _, end = parsed
            values = attrs.pop(name)
            while end is not None:
                found = session.search(
                    dn, "base", "(objectClass=*)", [f"{attribute};range={end + 1}-*"]
                )
                more = (
                    next((v for k, v in found[0][1].items() if ranged(k)), None) if found else None
                )
                key = next((k for k in found[0][1] if ranged(k)), None) if found else None
                if more is None or key is None:
                    break
                values.extend(more)
                end = (ranged(key) or (attribute, 0, None))[2]
            attrs[attribute] = values
