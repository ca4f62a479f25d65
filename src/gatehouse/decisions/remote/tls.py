"""TLS settings of one endpoint as an `ssl.SSLContext`: CA bundle, verification, client cert."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from gatehouse.decisions.remote.spec import EndpointSpec


def ssl_context(spec: EndpointSpec) -> ssl.SSLContext:
    """The context an https endpoint is reached with (system CAs unless a bundle is given)."""
    context = ssl.create_default_context(cadata=spec.ca_bundle) if spec.ca_bundle else None
    context = context or ssl.create_default_context()
    if not spec.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if spec.client_cert and spec.client_key:
        load_client_pair(context, spec.client_cert, spec.client_key)
    return context


def load_client_pair(context: ssl.SSLContext, cert: str, key: str) -> None:
    """Load a client certificate and key given as PEM text.

    `ssl` reads them only from files, so they pass through a private (0700) directory that is
    removed as soon as they are loaded.
    """
    with tempfile.TemporaryDirectory(prefix="gatehouse-mtls-") as folder:
        cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        for path, text in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        context.load_cert_chain(cert_path, key_path)
