"""A host name that does not resolve is a failed connect on every guarded client."""

import ipaddress

import httpx
import pytest

from gatehouse.kit.netio import AsyncioBackend
from gatehouse.kit.outbound import GuardedTransport, outbound_client

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]
NOWHERE = "http://nonexistent.invalid:8181/health"  # RFC 6761: `.invalid` never resolves


async def test_unresolvable_host_is_a_connect_error() -> None:
    """The guard's DNS failure reaches callers as httpx.ConnectError, not a raw socket.gaierror."""
    async with outbound_client(LOOPBACK) as client:
        with pytest.raises(httpx.ConnectError, match=r"cannot resolve host 'nonexistent\.invalid'"):
            await client.get(NOWHERE)


async def test_unresolvable_host_on_the_asyncio_backend() -> None:
    """The same through the guarded transport over the asyncio backend (webhook deliveries)."""
    transport = GuardedTransport(LOOPBACK, network=AsyncioBackend())
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(NOWHERE)
