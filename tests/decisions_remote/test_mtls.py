"""TLS to remote OPAs: a private CA, client certificates (mTLS), verification switched off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatehouse.tenants.models import PLATFORM
from tests.conftest import Harness
from tests.decisions_remote.conftest import configure, router
from tests.decisions_remote.h2opa import serve_h2
from tests.decisions_remote.pki import Authority, server_context

URL = "/v1/tenants/acme/decision-config"


async def test_mtls(harness: Harness, platform: dict[str, str], opas: Any, tmp_path: Path) -> None:
    """With the CA and a client certificate the OPA answers; without the certificate it cannot."""
    await harness.tenant("acme")
    ca = Authority()
    secure = await opas("secure", ssl_context=server_context(ca, tmp_path, require_client=True))
    client = ca.issue("gatehouse", server=False)
    endpoint = {
        "url": secure.url,
        "ca_bundle": ca.pem,
        "client_cert": client.cert,
        "client_key": client.key,
    }
    doc = await configure(harness, platform, "acme", mode="remote", opa_endpoints=[endpoint])
    assert doc["opa_endpoints"][0]["client_key_set"] is True
    assert "PRIVATE KEY" not in str(doc)
    decision = await router(harness).evaluate("acme", "authz/allow", {"user": "ada"})
    assert (decision.engine, decision.endpoint) == ("remote", secure.url)
    assert decision.result == {"server": "secure"}
    no_cert = {"url": secure.url, "ca_bundle": ca.pem, "client_cert": None, "client_key": None}
    await configure(
        harness,
        platform,
        "acme",
        mode="remote",
        opa_endpoints=[no_cert],
        health_check={"enabled": False},
    )
    refused = await router(harness).evaluate("acme", "authz/allow", {"user": "ada"})
    assert refused.engine == "fallback:deny"
    endpoint_state = router(harness).routes["acme"].engine.endpoints[0]  # type: ignore[union-attr]
    assert endpoint_state.last_error


async def test_unknown_ca_and_no_verify(
    harness: Harness, platform: dict[str, str], opas: Any, tmp_path: Path
) -> None:
    """A server signed by an unknown CA is refused unless verification is switched off."""
    await harness.tenant("acme")
    ca = Authority()
    server = await opas("tls", ssl_context=server_context(ca, tmp_path, require_client=False))
    off = {"health_check": {"enabled": False}}
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[server.url], **off)
    assert (await router(harness).evaluate("acme", "x", {})).engine == "fallback:deny"
    error = router(harness).routes["acme"].engine.endpoints[0].last_error  # type: ignore[union-attr]
    assert error and "CERTIFICATE_VERIFY_FAILED" in error
    unverified = {"url": server.url, "tls_verify": False}
    await configure(harness, platform, "acme", mode="remote", opa_endpoints=[unverified], **off)
    assert (await router(harness).evaluate("acme", "x", {})).engine == "remote"


async def test_client_cert_needs_key(harness: Harness, platform: dict[str, str]) -> None:
    """A client certificate without its key (or a bad key) is refused with 422."""
    await harness.tenant("acme")
    client = Authority().issue("gatehouse", server=False)
    lone = {"url": "https://opa.example.com", "client_cert": client.cert}
    resp = await harness.client.put(URL, json={"opa_endpoints": [lone]}, headers=platform)
    assert resp.status_code == 422
    bad = {**lone, "client_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"}
    resp = await harness.client.put(URL, json={"opa_endpoints": [bad]}, headers=platform)
    assert resp.status_code == 422
    assert "nope" not in resp.text
    assert PLATFORM  # platform admins configure any tenant


async def test_http2(harness: Harness, platform: dict[str, str], tmp_path: Path) -> None:
    """An https endpoint that speaks only HTTP/2 is reached over HTTP/2 (ALPN)."""
    await harness.tenant("acme")
    ca = Authority()
    seen: list[str] = []
    server = await serve_h2(server_context(ca, tmp_path, require_client=False), seen)
    try:
        port = server.sockets[0].getsockname()[1]
        endpoint = {"url": f"https://127.0.0.1:{port}", "ca_bundle": ca.pem}
        await configure(harness, platform, "acme", mode="remote", opa_endpoints=[endpoint])
        decision = await router(harness).evaluate("acme", "authz/allow", {})
        assert (decision.engine, decision.result) == ("remote", "h2")
        assert "/v1/data/authz/allow" in seen
        off = {"http2": False, "health_check": {"enabled": False}}
        await configure(harness, platform, "acme", mode="remote", opa_endpoints=[endpoint], **off)
        refused = await router(harness).evaluate("acme", "authz/allow", {})
        assert refused.engine == "fallback:deny"  # HTTP/1.1 to an h2-only server gets nowhere
    finally:
        server.close()
