"""One POST of a signed message through the outbound guard, and what came of it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from gatehouse import __version__
from gatehouse.kit.masking import MASK, mask

RESPONSE_KEPT = 2048  # characters of a response body kept with the attempt
RESPONSE_READ = 64 * 1024  # bytes read at most; the rest is never downloaded
USER_AGENT = f"Gatehouse-Webhooks/{__version__}"


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


def shown_headers(headers: dict[str, str]) -> dict[str, str]:
    """Request headers as recorded: signatures and secret-named values masked."""
    kept = {k: v for k, v in mask(headers).items() if isinstance(v, str)}
    if "webhook-signature" in kept:
        kept["webhook-signature"] = " ".join(
            s.split(",", 1)[0] + "," + MASK for s in headers["webhook-signature"].split(" ")
        )
    return kept


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


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,  # noqa: ASYNC109 (the endpoint's own per-request timeout)
    now: datetime,
) -> Outcome:
    """POST without following redirects; network failures become an error, not an exception."""
    started = time.perf_counter()
    try:
        async with client.stream(
            "POST", url, content=body, headers=headers, timeout=httpx.Timeout(timeout)
        ) as response:
            received = bytearray()
            async for chunk in response.aiter_bytes():
                received.extend(chunk)
                if len(received) >= RESPONSE_READ:
                    break
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
