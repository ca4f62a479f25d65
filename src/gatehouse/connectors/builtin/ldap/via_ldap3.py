"""The ldap3 backend: pure Python, installs anywhere."""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Generator, Sequence
from typing import Any, Literal

import ldap3
from ldap3.core import exceptions as x

from gatehouse.connectors.builtin.ldap.client import (
    LdapError,
    Page,
    Scope,
    endpoint,
    peer_of,
    result_error,
    unreachable,
)
from gatehouse.connectors.builtin.ldap.controls import (
    BUSY_WAITS,
    PAGED_OID,
    SORT_OID,
    SORT_RESULT_OID,
    sort_request,
    sort_result,
)
from gatehouse.connectors.builtin.ldap.settings import LdapSettings
from gatehouse.connectors.builtin.ldap.values import Entry
from gatehouse.connectors.protocol import CheckFailure

BUSY = 51
SCOPES: dict[str, Literal["BASE", "LEVEL", "SUBTREE"]] = {
    "base": "BASE",
    "one": "LEVEL",
    "sub": "SUBTREE",
}
_TLS_WORDS = ("ssl", "tls", "certificate", "handshake", "hostname")


def _failure(exc: Exception) -> LdapError:
    """An LdapError for whatever ldap3 raised."""
    if isinstance(exc, x.LDAPOperationResult):
        detail = str(exc.message or exc.description or "")
        return result_error(int(exc.result or 0), detail, str(getattr(exc, "dn", "") or ""))
    text = str(exc)
    if isinstance(exc, x.LDAPStartTLSError | x.LDAPCertificateError) or (
        isinstance(exc, x.LDAPSocketOpenError) and any(w in text.lower() for w in _TLS_WORDS)
    ):
        return LdapError(CheckFailure.tls, f"TLS failed: {text}")
    if isinstance(exc, x.LDAPResponseTimeoutError | x.LDAPSocketReceiveError) and (
        "timed out" in text.lower() or "timeout" in text.lower()
    ):
        return LdapError(CheckFailure.timeout, f"no answer in time: {text}", transient=True)
    if isinstance(exc, x.LDAPCommunicationError | x.LDAPSocketOpenError | OSError):
        return unreachable(f"connection failed: {text}")
    return LdapError(CheckFailure.error, f"{type(exc).__name__}: {text}")


class Ldap3Session:
    """A session over ldap3's synchronous strategy."""

    backend = "ldap3"

    def __init__(self, settings: LdapSettings, url: str) -> None:
        host, port = endpoint(url)
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if settings.tls_verify == "required" else ssl.CERT_NONE,
            ca_certs_data=settings.ca_pem or None,
            sni=host,
        )
        self.settings = settings
        self.server = ldap3.Server(
            host,
            port=port,
            use_ssl=url.startswith("ldaps://"),
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=settings.connect_timeout_seconds,
        )
        password = settings.password.get_secret_value() if settings.password else None
        self.conn = ldap3.Connection(
            self.server,
            user=settings.bind_dn,
            password=password,
            client_strategy=ldap3.SYNC,
            raise_exceptions=True,
            receive_timeout=int(settings.timeout_seconds) or 1,
            read_only=True,
            check_names=False,
            auto_range=False,
            auto_referrals=False,
            return_empty_attributes=False,
        )

    def open(self) -> None:
        """Open the socket (TLS for ldaps://) and run StartTLS when configured."""
        try:
            self.conn.open()
            if self.settings.start_tls:
                self.conn.start_tls()
        except Exception as exc:
            raise _failure(exc) from None

    def peer(self) -> str:
        """The connected address."""
        return peer_of(self.conn.socket)

    def bind(self) -> None:
        """Bind, or stay anonymous without a bind DN."""
        if self.settings.bind_dn is None:
            return
        try:
            self.conn.bind()
        except Exception as exc:
            raise _failure(exc) from None

    def _search(
        self, base: str, scope: Scope, filterstr: str, attrs: Sequence[str], **kw: Any
    ) -> tuple[list[Entry], dict[str, Any]]:
        try:
            self.conn.search(base, filterstr, SCOPES[scope], attributes=list(attrs), **kw)
        except Exception as exc:
            raise _failure(exc) from None
        entries = [
            (r["dn"], dict(r["raw_attributes"]))
            for r in self.conn.response or ()
            if r.get("type") == "searchResEntry"
        ]
        return entries, self.conn.result.get("controls") or {}

    def search(self, base: str, scope: Scope, filterstr: str, attrs: Sequence[str]) -> list[Entry]:
        """An unpaged search."""
        return self._search(base, scope, filterstr, attrs)[0]

    def pages(
        self, base: str, filterstr: str, attrs: Sequence[str], size: int, sort: str | None
    ) -> Generator[Page, None, None]:
        """Paged (and maybe sorted) subtree search, one page per request."""
        cookie: bytes | None = None
        controls = [(SORT_OID, False, sort_request(sort))] if sort else None
        waits = list(BUSY_WAITS)
        try:
            while True:
                try:
                    entries, answer = self._search(
                        base,
                        "sub",
                        filterstr,
                        attrs,
                        paged_size=size,
                        paged_cookie=cookie,
                        controls=controls,
                    )
                except LdapError as exc:
                    if exc.code != BUSY or not waits:
                        raise
                    time.sleep(waits.pop(0))  # see BUSY_WAITS; the same page is asked again
                    continue
                waits = list(BUSY_WAITS)
                cookie = ((answer.get(PAGED_OID) or {}).get("value") or {}).get("cookie")
                sorted_ = None
                if sort:
                    raw = (answer.get(SORT_RESULT_OID) or {}).get("value")
                    sorted_ = sort_result(raw if isinstance(raw, bytes) else None) == 0
                yield Page(entries, sorted_)
                if not cookie:
                    return
        finally:
            if cookie:  # left early: release the server's paged state (RFC 2696, size 0)
                with contextlib.suppress(LdapError):
                    self._search(
                        base,
                        "sub",
                        filterstr,
                        ["1.1"],
                        paged_size=0,
                        paged_cookie=cookie,
                        controls=controls,
                    )

    def close(self) -> None:
        """Unbind quietly."""
        with contextlib.suppress(Exception):
            self.conn.unbind()
