"""One remote OPA: its pooled client, health, breaker and latency, and how it is asked."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from gatehouse.config import IPNetwork
from gatehouse.decisions.remote.breaker import CircuitBreaker
from gatehouse.decisions.remote.spec import EndpointSpec, RemoteSpec
from gatehouse.decisions.remote.tls import ssl_context
from gatehouse.decisions.types import EvaluationError
from gatehouse.kit.outbound import outbound_client

# httpcore's pool costs grow with the square of its connections; several small pools, taken
# in turn, keep that cost flat under concurrency (docs/decisions.md).
POOL_SHARDS = 8
LATENCY_WEIGHT = 0.2  # weight of the newest sample in the moving average
# Statuses that say the endpoint cannot answer now, not that the question was wrong.
UNAVAILABLE = frozenset({408, 429})


class Unanswered(Exception):
    """The endpoint gave no usable answer (connection, DNS, timeout, 5xx, 3xx): try another."""


@dataclass
class Health:
    """What the active health checks last saw."""

    healthy: bool | None = None  # None until the first check
    consecutive_failures: int = 0
    last_check_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """OPA's reply to a data query: whether the rule was defined, and its value."""

    defined: bool
    result: Any
    # OPA's `explanation`, when the query asked for one (`?explain=`).
    explanation: Any = None


class Endpoint:
    """A remote OPA server and everything Gatehouse knows about it."""

    def __init__(self, spec: EndpointSpec, remote: RemoteSpec, allow: list[IPNetwork]) -> None:
        self.spec = spec
        self.url = spec.url
        self.breaker = CircuitBreaker(remote.circuit_breaker)
        self.health = Health()
        self.latency_ms: float | None = None
        self.request_timeout = remote.request_timeout
        self.requests = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_success_at: datetime | None = None
        headers = {"Content-Type": "application/json"}
        if spec.bearer_token:
            headers["Authorization"] = f"Bearer {spec.bearer_token}"
        https = spec.url.startswith("https://")
        context = ssl_context(spec) if https else True
        shards = min(POOL_SHARDS, remote.max_connections)
        size = max(1, remote.max_connections // shards)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self.clients = [
            outbound_client(
                allow,
                base_url=spec.url,
                headers=headers,
                timeout=httpx.Timeout(remote.request_timeout),
                verify=context,
                http2=remote.http2 and https,
                limits=limits,
            )
            for _ in range(shards)
        ]
        self.turn = itertools.cycle(self.clients)

    @property
    def client(self) -> httpx.AsyncClient:
        """The client health checks use (the first shard)."""
        return self.clients[0]

    def usable(self) -> bool:
        """Whether a request may go here: not known to be down, and the breaker admits calls."""
        return self.health.healthy is not False and self.breaker.available()

    async def query(self, path: str, body: bytes, params: dict[str, str] | None = None) -> Answer:
        """POST the input to `/v1/data/{path}` (with `params` as the query string, when given);
        Unanswered when another endpoint should try."""
        started = time.perf_counter()
        self.requests += 1
        try:
            async with asyncio.timeout(self.request_timeout):
                client = next(self.turn)
                response = await client.post(f"/v1/data/{path}", content=body, params=params)
            if unanswered(response.status_code):
                raise Unanswered(f"HTTP {response.status_code} from {self.url}")
            doc = orjson.loads(response.content) if response.content else {}
        except TimeoutError:
            error = f"no answer within {self.request_timeout}s"
            self.failed(error)
            raise Unanswered(error) from None
        except (httpx.HTTPError, orjson.JSONDecodeError) as exc:
            self.failed(describe(exc))
            raise Unanswered(describe(exc)) from exc
        except Unanswered as exc:
            self.failed(str(exc))
            raise
        self.succeeded((time.perf_counter() - started) * 1000)
        if response.status_code >= 400:
            raise refused(response.status_code, doc)
        if not isinstance(doc, dict):
            raise EvaluationError("remote_error", f"{self.url} answered with a non-object", 502)
        return Answer("result" in doc, doc.get("result"), doc.get("explanation"))

    def failed(self, error: str) -> None:
        """Count a request that got no usable answer."""
        self.failures += 1
        self.last_error = error

    def succeeded(self, latency_ms: float) -> None:
        """Count an answer and fold its latency into the moving average."""
        self.last_success_at = datetime.now(UTC)
        previous = self.latency_ms
        self.latency_ms = (
            latency_ms
            if previous is None
            else (previous + LATENCY_WEIGHT * (latency_ms - previous))
        )

    @property
    def closed(self) -> bool:
        """Whether every pool is closed."""
        return all(c.is_closed for c in self.clients)

    async def close(self) -> None:
        """Close the pooled connections."""
        for client in self.clients:
            await client.aclose()


def unanswered(status: int) -> bool:
    """Whether a status says this endpoint gave no answer: a 5xx, 408 or 429, or a redirect
    (redirects are not followed, and OPA's data API never redirects a query it answered)."""
    return status >= 500 or status in UNAVAILABLE or 300 <= status < 400


def refused(status: int, doc: Any) -> EvaluationError:
    """OPA's own error (a 4xx) as an evaluation error: the query, not the server, was wrong."""
    code = doc.get("code", "remote_error") if isinstance(doc, dict) else "remote_error"
    message = doc.get("message", f"HTTP {status}") if isinstance(doc, dict) else f"HTTP {status}"
    # OPA refusing Gatehouse's own credentials is a gateway problem, not the caller's.
    return EvaluationError(str(code), str(message), 400 if status == 400 else 502)


def describe(exc: BaseException) -> str:
    """A short, secret-free description of a transport failure."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
