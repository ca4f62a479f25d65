"""The python-ldap backend (OpenLDAP's C libldap): several times faster paged reads."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from collections.abc import Generator, Sequence
from typing import Any

import ldap
from ldap.controls import RequestControl, ResponseControl
from ldap.controls.libldap import SimplePagedResultsControl

from gatehouse.connectors.builtin.ldap.client import (
    LdapError,
    Page,
    Scope,
    endpoint,
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

SCOPES = {"base": ldap.SCOPE_BASE, "one": ldap.SCOPE_ONELEVEL, "sub": ldap.SCOPE_SUBTREE}


class _RawControl(ResponseControl):  # type: ignore[misc]
    """A response control kept as its encoded value."""

    def decodeControlValue(self, encodedControlValue: bytes) -> None:  # noqa: N802, N803
        """Keep the bytes."""
        self.raw = encodedControlValue


ANSWERS = {PAGED_OID: SimplePagedResultsControl, SORT_RESULT_OID: _RawControl}


class LibldapSession:
    """A session over python-ldap's LDAPObject."""

    backend = "python-ldap"

    def __init__(self, settings: LdapSettings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.timeout = settings.timeout_seconds
        self.conn: Any = ldap.initialize(url)
        conn = self.conn
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, settings.connect_timeout_seconds)
        conn.set_option(ldap.OPT_TIMEOUT, settings.timeout_seconds)
        self.tls = url.startswith("ldaps://") or settings.start_tls
        if self.tls:
            self._tls_options()

    def _tls_options(self) -> None:
        conn, settings = self.conn, self.settings
        demand = settings.tls_verify == "required"
        conn.set_option(
            ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND if demand else ldap.OPT_X_TLS_NEVER
        )
        if settings.ca_pem:
            # libldap (GnuTLS on Debian) takes CAs from a file; it is read when the context is made
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
                handle.write(settings.ca_pem)
            try:
                conn.set_option(ldap.OPT_X_TLS_CACERTFILE, handle.name)
                conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
            finally:
                os.unlink(handle.name)
        else:
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)

    def _failure(self, exc: Exception) -> LdapError:
        """An LdapError for whatever python-ldap raised."""
        info: dict[str, Any] = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        code = int(info.get("result", -1))
        detail = str(info.get("info") or info.get("desc") or exc)
        if isinstance(exc, ldap.TIMEOUT):
            return LdapError(CheckFailure.timeout, f"no answer in time: {detail}", transient=True)
        if isinstance(exc, ldap.CONNECT_ERROR):
            return LdapError(CheckFailure.tls, f"TLS failed: {detail}")
        if isinstance(exc, ldap.SERVER_DOWN):
            if self.tls and self._tcp_answers():
                return LdapError(
                    CheckFailure.tls,
                    f"TLS failed (the port answers, the handshake did not succeed): {detail}",
                )
            return unreachable(f"connection failed: {detail}")
        if isinstance(exc, ldap.FILTER_ERROR):
            return LdapError(CheckFailure.config, f"bad search filter: {detail}")
        if code >= 0:
            return result_error(code, detail, str(info.get("matched") or ""))
        return LdapError(CheckFailure.error, f"{type(exc).__name__}: {detail}")

    def _tcp_answers(self) -> bool:
        host, port = endpoint(self.url)
        try:
            with socket.create_connection((host, port), self.settings.connect_timeout_seconds):
                return True
        except OSError:
            return False

    def open(self) -> None:
        """Connect: StartTLS when configured, else read the root DSE (no credentials yet)."""
        try:
            if self.settings.start_tls:
                self.conn.start_tls_s()
            else:
                msgid = self.conn.search_ext("", ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
                with contextlib.suppress(ldap.NO_SUCH_OBJECT, ldap.INSUFFICIENT_ACCESS):
                    self.conn.result3(msgid, all=1, timeout=self.timeout)
        except ldap.LDAPError as exc:
            raise self._failure(exc) from None

    def peer(self) -> str:
        """The connected address (from libldap's socket descriptor)."""
        fd = self.conn.get_option(ldap.OPT_DESC)
        with socket.socket(fileno=os.dup(fd)) as sock:
            return str(sock.getpeername()[0])

    def bind(self) -> None:
        """Bind, or stay anonymous without a bind DN."""
        if self.settings.bind_dn is None:
            return
        password = self.settings.password.get_secret_value() if self.settings.password else ""
        try:
            self.conn.simple_bind_s(self.settings.bind_dn, password)
        except ldap.LDAPError as exc:
            raise self._failure(exc) from None

    def search(self, base: str, scope: Scope, filterstr: str, attrs: Sequence[str]) -> list[Entry]:
        """An unpaged search."""
        try:
            msgid = self.conn.search_ext(base, SCOPES[scope], filterstr, list(attrs))
            _, data, _, _ = self.conn.result3(msgid, all=1, timeout=self.timeout)
        except ldap.LDAPError as exc:
            raise self._failure(exc) from None
        return [(dn, attrs) for dn, attrs in data if dn is not None]

    def _send(
        self,
        base: str,
        filterstr: str,
        attrs: list[str],
        size: int,
        cookie: bytes,
        sort: str | None,
    ) -> int:
        controls: list[Any] = [SimplePagedResultsControl(False, size=size, cookie=cookie)]
        if sort:
            controls.append(RequestControl(SORT_OID, False, sort_request(sort)))
        return int(
            self.conn.search_ext(base, ldap.SCOPE_SUBTREE, filterstr, attrs, serverctrls=controls)
        )

    def pages(
        self, base: str, filterstr: str, attrs: Sequence[str], size: int, sort: str | None
    ) -> Generator[Page, None, None]:
        """Paged (and maybe sorted) subtree search.

        The next page is requested before this one is yielded, so the server works while the
        caller converts. A page answered "busy" is asked again (see BUSY_WAITS).
        """
        names = list(attrs)
        pending: int | None = None
        cookie: bytes = b""
        waits = list(BUSY_WAITS)
        try:
            pending = self._send(base, filterstr, names, size, cookie, sort)
            while pending is not None:
                msgid, pending = pending, None
                try:
                    data, next_cookie, sorted_ = self._receive(msgid, sort)
                except ldap.BUSY:
                    if not waits:
                        raise
                    time.sleep(waits.pop(0))  # see BUSY_WAITS; the same page is asked again
                    pending = self._send(base, filterstr, names, size, cookie, sort)
                    continue
                cookie, waits = next_cookie, list(BUSY_WAITS)
                if cookie:
                    pending = self._send(base, filterstr, names, size, cookie, sort)
                yield Page([(dn, a) for dn, a in data if dn is not None], sorted_)
            cookie = b""
        except ldap.LDAPError as exc:
            raise self._failure(exc) from None
        finally:
            if pending is not None or cookie:
                self._end(base, filterstr, size, pending, cookie, sort)

    def _receive(self, msgid: int, sort: str | None) -> tuple[list[Any], bytes, bool | None]:
        _, data, _, answers = self.conn.result3(
            msgid, all=1, timeout=self.timeout, resp_ctrl_classes=ANSWERS
        )
        cookie, sorted_ = b"", None
        for answer in answers:
            if answer.controlType == PAGED_OID:
                cookie = answer.cookie
            elif answer.controlType == SORT_RESULT_OID:
                sorted_ = sort_result(answer.raw) == 0
        return data, cookie, (sorted_ or False) if sort else None

    def _end(
        self,
        base: str,
        filterstr: str,
        size: int,
        pending: int | None,
        cookie: bytes,
        sort: str | None,
    ) -> None:
        """Release a paged search left early: a page size of 0 with the cookie (RFC 2696)."""
        with contextlib.suppress(ldap.LDAPError):
            if pending is not None:
                cookie = self._receive(pending, sort)[1]
            if cookie:
                self._receive(self._send(base, filterstr, ["1.1"], 0, cookie, sort), sort)

    def close(self) -> None:
        """Unbind quietly."""
        with contextlib.suppress(Exception):
            self.conn.unbind_s()
