"""TLS for database connections: disable, require (encrypt only) or verify-full (CA and name)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from gatehouse.connectors.protocol import CheckFailure, ConnectorError

MODES = ("disable", "require", "verify-full")


class PinnedNameContext(ssl.SSLContext):
    """A client context that checks the certificate against the configured host name even
    though the socket goes to the address the outbound guard checked (never re-resolved)."""

    server_name: str | None = None

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        """Wrap with the pinned server name (SNI and certificate check)."""
        name = self.server_name if not server_side and self.server_name else server_hostname
        return super().wrap_bio(incoming, outgoing, server_side, name, session)


def client_context(config: Mapping[str, Any], host: str) -> ssl.SSLContext | None:
    """The SSL context for the configured `tls_mode`, or None when TLS is disabled."""
    mode = config.get("tls_mode", "verify-full")
    if mode == "disable":
        return None
    context = PinnedNameContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode == "require":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    pem = config.get("tls_ca_pem") or ""
    try:
        if pem:
            context.load_verify_locations(cadata=pem)
        else:
            context.load_default_certs()
    except (ssl.SSLError, ValueError) as exc:
        raise ConnectorError(
            CheckFailure.tls, f"tls_ca_pem is not a valid PEM certificate ({exc}); paste the CA"
        ) from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.server_name = host
    return context


def tls_failure(exc: BaseException, config: Mapping[str, Any]) -> ConnectorError | None:
    """A ConnectorError for a TLS handshake failure, or None when `exc` is not one."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = (
            "paste the CA that signed the server certificate into tls_ca_pem"
            if not any(word in str(exc).lower() for word in ("hostname", "mismatch"))
            else "connect with the host name the certificate was issued for"
        )
        return ConnectorError(
            CheckFailure.tls,
            f"the server certificate was not accepted ({exc.verify_message}); {hint}",
        )
    if isinstance(exc, ssl.SSLError):
        return ConnectorError(
            CheckFailure.tls, f"the TLS handshake failed ({exc.reason or exc}); check tls_mode"
        )
    return None


def not_offered(config: Mapping[str, Any]) -> ConnectorError:
    """The server answered without TLS although the configuration asks for it."""
    mode = config.get("tls_mode", "verify-full")
    return ConnectorError(
        CheckFailure.tls,
        f"the server does not offer TLS but tls_mode is {mode!r}: enable TLS on the server, "
        "or set tls_mode to disable if the network between them is trusted",
    )
