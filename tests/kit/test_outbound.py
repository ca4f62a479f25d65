"""The SSRF guard, against a real HTTP server on loopback."""

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from gatehouse.kit.outbound import OutboundBlockedError, literal, outbound_client, permitted

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


class Handler(BaseHTTPRequestHandler):
    """Answers /ok and redirects elsewhere."""

    def do_GET(self) -> None:
        """Serve one request."""
        targets = {
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-ipv6-loopback": "http://[::1]:9/",
            "/to-ok": "/ok",
        }
        if self.path in targets:
            self.send_response(302)
            self.send_header("Location", targets[self.path])
            self.end_headers()
            return
        body = b"fine"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Stay quiet."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address under test, not a bind)
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        # IPv6 forms that carry a private IPv4 address, judged by the address inside:
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:0:127.0.0.1",  # IPv4-translated (RFC 2765)
        "::ffff:0:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 well-known prefix
        "64:ff9b::a00:1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
        # Not globally routable though Python calls them global:
        "fec0::1",  # site-local
        "64:ff9b:1::808:808",  # local-use NAT64 (RFC 8215)
    ],
)
def test_private_addresses_are_refused(address: str) -> None:
    """Private, loopback, link-local, shared, unspecified and multicast addresses are refused."""
    assert not permitted(ipaddress.ip_address(address), [])


def test_public_and_allowlisted_addresses_pass() -> None:
    """Public addresses pass; a private one passes when its network is allowed."""
    assert permitted(ipaddress.ip_address("93.184.216.34"), [])
    assert permitted(ipaddress.ip_address("2606:4700::1111"), [])
    assert permitted(ipaddress.ip_address("127.0.0.1"), LOOPBACK)
    assert not permitted(ipaddress.ip_address("10.0.0.1"), LOOPBACK)
    # An IPv6 form of a public IPv4 address is as public as the address inside.
    for public in ("::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"):
        assert permitted(ipaddress.ip_address(public), []), public
    # The embedded address is what an allowlist of IPv4 networks judges.
    assert permitted(ipaddress.ip_address("::ffff:0:127.0.0.1"), LOOPBACK)
    assert permitted(ipaddress.ip_address("::1"), [ipaddress.ip_network("::1/128")])


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),  # noqa: S104 (an address under test, not a bind)
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:0:127.0.0.1", "::ffff:0:7f00:1"),
        ("example.com", None),
        ("127.0.0.1.example.com", None),
    ],
)
def test_numeric_hosts_are_read_as_the_resolver_reads_them(host: str, address: str | None) -> None:
    """Every numeric spelling the system resolver accepts is an address, not a name."""
    found = literal(host)
    assert (str(found) if found else None) == address


async def test_numeric_spellings_of_loopback_are_refused(server: str) -> None:
    """`2130706433` and `127.1` reach the loopback server when it is allowed, so they are
    loopback: refused without the allowlist."""
    port = server.rsplit(":", 1)[1]
    for host in ("2130706433", "127.1"):
        async with outbound_client(LOOPBACK) as client:
            assert (await client.get(f"http://{host}:{port}/ok")).text == "fine"
        async with outbound_client() as client:
            with pytest.raises(OutboundBlockedError):
                await client.get(f"http://{host}:{port}/ok")


async def test_loopback_refused_by_default(server: str) -> None:
    """Without an allowlist the loopback server is never reached, by IP or by name."""
    async with outbound_client() as client:
        with pytest.raises(OutboundBlockedError, match="GATEHOUSE_OUTBOUND_ALLOW"):
            await client.get(f"{server}/ok")
        with pytest.raises(OutboundBlockedError):
            await client.get(server.replace("127.0.0.1", "localhost") + "/ok")


async def test_allowlisted_loopback_is_reached(server: str) -> None:
    """With 127.0.0.0/8 allowed, the call goes through, redirects included."""
    async with outbound_client(LOOPBACK, follow_redirects=True) as client:
        resp = await client.get(f"{server}/to-ok")
    assert resp.status_code == 200
    assert resp.text == "fine"


async def test_redirects_are_checked_too(server: str) -> None:
    """A redirect from an allowed host to a forbidden one is refused at the hop."""
    async with outbound_client(LOOPBACK, follow_redirects=True) as client:
        with pytest.raises(OutboundBlockedError):
            await client.get(f"{server}/to-metadata")
        with pytest.raises(OutboundBlockedError):
            await client.get(f"{server}/to-ipv6-loopback")


async def test_connection_options_reach_the_guarded_transport() -> None:
    """verify, http2 and limits given to the client shape the guarded transport's pool."""
    context = ssl.create_default_context()
    limits = httpx.Limits(max_connections=7)
    async with outbound_client(verify=context, http2=True, limits=limits) as client:
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool._ssl_context is context
        assert pool._http2 is True
        assert pool._max_connections == 7
