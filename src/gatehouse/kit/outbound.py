"""The one HTTP client for outbound calls: it refuses private, loopback and link-local targets.

Every address a host name resolves to is checked, and the connection goes to the checked
address, so DNS rebinding between check and connect cannot slip through. Redirects pass
through the same check. Proxies from the environment are ignored: they would bypass it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import httpx

from gatehouse.config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class OutboundBlockedError(httpx.TransportError):
    """The destination is on a private network that the allowlist does not name."""


# IPv6 ranges whose last 32 bits are an IPv4 address the packet ends up at: IPv4-compatible
# (`::a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`, RFC 2765) and NAT64 (`64:ff9b::/96`).
EMBEDDING = tuple(ipaddress.IPv6Network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96"))
# Never globally routable, though Python calls them global: site-local and local-use NAT64.
UNROUTED = tuple(ipaddress.IPv6Network(n) for n in ("fec0::/10", "64:ff9b:1::/48"))


def embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, translated, NAT64, 6to4)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if int(address) > 1 and any(address in network for network in EMBEDDING):  # not :: or ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def permitted(address: IPAddress, allow: Sequence[IPNetwork]) -> bool:
    """Whether an address is public, or inside an allowed network; an IPv6 form carrying an
    IPv4 address is judged by the IPv4 address inside."""
    inner = embedded(address) if isinstance(address, ipaddress.IPv6Address) else None
    if any(a in network for a in (address, inner) if a is not None for network in allow):
        return True
    if inner is not None:
        return inner.is_global and not inner.is_multicast
    if isinstance(address, ipaddress.IPv6Address) and any(address in n for n in UNROUTED):
        return False
    return address.is_global and not address.is_multicast


def literal(host: str) -> IPAddress | None:
    """The address a numeric host stands for, parsed as the system resolver parses it when it
    connects (`127.1`, `2130706433`, `0x7f.1` and `0` are IPv4 addresses too); None for a name.

    Checks made before any connection (when a URL is saved) use this, so they judge a host
    exactly as the guard does when it connects.
    """
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0]) if infos else None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address a host name or literal stands for."""
    found = literal(host)
    if found is not None:
        return [found]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def checked_address(host: str, port: int, allow: Sequence[IPNetwork]) -> str:
    """The address to connect to for `host`, once every address it resolves to is permitted.

    Any client that opens its own sockets (database drivers, LDAP) connects to the returned
    address rather than the name, so DNS cannot answer differently between check and connect.
    """
    addresses = await resolve(host, port)
    refused = [str(a) for a in addresses if not permitted(a, allow)]
    if refused or not addresses:
        raise refusal(host, refused)
    return str(addresses[0])


def check_peer(host: str, peer: str, allow: Sequence[IPNetwork]) -> None:
    """Refuse a connected socket whose peer address is not permitted.

    For clients that must connect by name (TLS host-name checks inside a C library, as with
    LDAP): check the name first with `checked_address`, then the connected peer before sending
    anything that matters, so a DNS answer that changed in between is caught.
    """
    if not permitted(ipaddress.ip_address(peer.split("%", 1)[0]), allow):
        raise refusal(host, [peer])


def refusal(host: str, refused: Sequence[str]) -> OutboundBlockedError:
    """The error for a destination the guard turns away."""
    return OutboundBlockedError(
        f"outbound call to {host} ({', '.join(refused) or 'no address'}) refused: "
        "private, loopback or link-local; add its network to GATEHOUSE_OUTBOUND_ALLOW "
        "if it is meant to be reached"
    )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that checks and pins each destination address."""

    def __init__(
        self, allow: Sequence[IPNetwork], inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.allow = list(allow)
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect only when every resolved address is permitted.

        A name that does not resolve is a failed connect (httpx's ConnectError), like a refused
        one, so every client's failover, retry and breaker treat it as one.
        """
        try:
            address = await checked_address(host, port, self.allow)
        except (OSError, UnicodeError) as exc:  # socket.gaierror; IDNA refusing the name
            raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc
        return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never an outbound destination."""
        raise OutboundBlockedError("outbound calls over unix sockets are refused")

    async def sleep(self, seconds: float) -> None:
        """Sleep on the inner backend."""
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the guarded network backend underneath (over `network`, by
    default httpcore's anyio backend)."""

    def __init__(
        self,
        allow: Sequence[IPNetwork],
        network: httpcore.AsyncNetworkBackend | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trust_env=False, **kwargs)
        pool = self._pool
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=pool._ssl_context,
            max_connections=pool._max_connections,
            max_keepalive_connections=pool._max_keepalive_connections,
            keepalive_expiry=pool._keepalive_expiry,
            http1=pool._http1,
            http2=pool._http2,
            retries=pool._retries,
            network_backend=GuardedBackend(allow, network),
        )


# Options that shape connections: a client given its own transport would silently ignore them.
TRANSPORT_OPTIONS = ("verify", "cert", "http1", "http2", "limits")


def outbound_client(allow: Sequence[IPNetwork] = (), **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client whose every connection (redirects included) passes the guard."""
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    options = {name: kwargs.pop(name) for name in TRANSPORT_OPTIONS if name in kwargs}
    transport = GuardedTransport(allow, **options)
    return httpx.AsyncClient(transport=transport, trust_env=False, **kwargs)
