"""Signed POSTs through the outbound guard, one lane each, and what came of them."""

from __future__ import annotations

import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from gatehouse import __version__
from gatehouse.config import IPNetwork
from gatehouse.kit.netio import AsyncioBackend
from gatehouse.kit.outbound import GuardedTransport

RESPONSE_KEPT = 2048  # characters of a response body kept with the attempt
RESPONSE_READ = 64 * 1024  # bytes read at most; the rest is never downloaded
USER_AGENT = f"Gatehouse-Webhooks/{__version__}"
LANE_CONNECTIONS = 4  # per lane: a lane sends one request at a time, to a few hosts in turn


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    status: int | None
    body: str
    latency_ms: float
    error: str | None
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        """A 2xx answer, and only that, is a delivery."""
        return self.status is not None and 200 <= self.status < 300


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class Lanes:
    """One small guarded transport per request in flight, each used by one sender at a time.

    httpcore's pool does work in proportion to its connections on every request, so a few
    shared pools of many connections cost several times more per request than many pools of
    one busy connection each (docs/webhooks.md, "Performance"). Transports speak to the network
    through asyncio directly (`kit.netio`); every new connection still passes the guard.
    """

    def __init__(self, allow: Sequence[IPNetwork]) -> None:
        self.allow = list(allow)
        self._transports: list[GuardedTransport] = []
        self._tls: ssl.SSLContext | None = None
        self._spare: GuardedTransport | None = None

    def transport(self, lane: int) -> GuardedTransport:
        """The transport of one lane (made on first use, then kept with its connections)."""
        while len(self._transports) <= lane:
            self._transports.append(self._new())
        return self._transports[lane]

    @property
    def spare(self) -> GuardedTransport:
        """A transport no lane uses (test sends, outside the rounds)."""
        if self._spare is None:
            self._spare = self._new()
        return self._spare

    def _new(self) -> GuardedTransport:
        if self._tls is None:
            self._tls = ssl.create_default_context()  # one context shared by all lanes
        limits = httpx.Limits(
            max_connections=LANE_CONNECTIONS, max_keepalive_connections=LANE_CONNECTIONS
        )
        return GuardedTransport(self.allow, AsyncioBackend(), verify=self._tls, limits=limits)

    async def close(self) -> None:
        """Close every transport and its connections."""
        transports, self._transports = self._transports, []
        if self._spare is not None:
            transports.append(self._spare)
            self._spare = None
        for transport in transports:
            await transport.aclose()


async def post(
    transport: httpx.AsyncBaseTransport,
    url: httpx.URL,
    body: bytes,
    headers: dict[str, str],
    timeout: float,  # noqa: ASYNC109 (the endpoint's own per-request timeout)
    now: datetime,
) -> Outcome:
    """POST (redirects are never followed); network failures become an error, not an exception."""
    started = time.perf_counter()
    limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    request = httpx.Request(
        "POST", url, content=body, headers=headers, extensions={"timeout": limits}
    )
    try:
        response = await transport.handle_async_request(request)
        try:
            received = bytearray()
            async for chunk in response.aiter_bytes():
                received.extend(chunk)
                if len(received) >= RESPONSE_READ:
                    break
        finally:
            await response.aclose()
        text = bytes(received[: RESPONSE_KEPT * 4]).decode("utf-8", "replace")[:RESPONSE_KEPT]
        wait = None
        if response.status_code in (429, 503):
            wait = retry_after(response.headers.get("retry-after"), now)
        error = None
        if response.is_redirect:
            error = f"redirect to {response.headers.get('location', '?')} not followed"
        latency = (time.perf_counter() - started) * 1000
        return Outcome(response.status_code, text, latency, error, wait)
    except httpx.TimeoutException:
        error = f"no answer within {timeout:g} s"
    except (httpx.HTTPError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    return Outcome(None, "", (time.perf_counter() - started) * 1000, error)
