"""Webhook fixtures: a loopback receiver that verifies signatures as a real one would."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.exceptions import WebhookVerificationError

from gatehouse.config import Settings
from tests.conftest import Harness, started

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]
Reply = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Receiver:
    """What a receiver got, verified with each secret it knows, and how it answers next."""

    url: str = ""
    secrets: list[str] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    rejected: int = 0
    replies: list[Reply] = field(default_factory=list)  # one per request, then 200

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        """Check the body with each known secret, as `standardwebhooks` receivers do."""
        for secret in self.secrets:
            try:
                self.verified.append(Webhook(secret).verify(body, headers))
                return True
            except WebhookVerificationError:
                continue
        self.rejected += 1
        return False


def answer(status: int, body: bytes = b"ok", **headers: str) -> Reply:
    """A reply with a status, body and headers."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return reply


def hang(seconds: float) -> Reply:
    """A reply that comes too late."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        answer(200)(handler)

    return reply


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection without a word."""
    handler.close_connection = True
    handler.connection.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback HTTP server taking webhook POSTs."""
    yield from receiving()


@pytest.fixture
def elsewhere() -> Iterator[Receiver]:
    """A second receiver: another host an endpoint could be moved to."""
    yield from receiving()


def receiving() -> Iterator[Receiver]:
    """Run a loopback receiver while the generator is open."""
    seen = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.headers.append(headers)
            reply = seen.replies.pop(0) if seen.replies else answer(200)
            seen.verify(body, headers)
            reply(self)

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    seen.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)


def loopback(settings: Settings, **extra: Any) -> Settings:
    """Settings that may reach the loopback receiver."""
    return settings.model_copy(
        update={"outbound_allow": LOOPBACK, "webhooks_poll_seconds": 0.05, **extra}
    )


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    """The app with its webhook worker running, allowed to reach loopback."""
    async with started(loopback(settings)) as h:
        yield h


@pytest.fixture
async def manual(settings: Settings) -> AsyncIterator[tuple[Harness, Clock]]:
    """The app without a running worker: tests tick it by hand on a hand-moved clock."""
    async with started(loopback(settings, webhooks_worker=False)) as h:
        clock = Clock()
        h.svc.webhooks.clock = clock
        yield h, clock


async def tenant_auth(h: Harness, tenant: str = "acme") -> dict[str, str]:
    """A tenant and a token for it that may read and write webhooks and identities."""
    await h.tenant(tenant)
    token = await h.token(tenant, "webhooks:read", "webhooks:write", "scim:write", "scim:read")
    return h.auth(token)


async def endpoint(
    h: Harness, auth: dict[str, str], receiver: Receiver, **fields: Any
) -> dict[str, Any]:
    """Create an endpoint pointing at the receiver, which learns its secret."""
    r = await h.client.post(
        "/v1/integration/webhooks", json={"url": receiver.url, **fields}, headers=auth
    )
    assert r.status_code == 201, r.text
    body = dict(r.json())
    receiver.secrets.append(body["secret"])
    return body


async def add_user(h: Harness, auth: dict[str, str], name: str = "alice") -> httpx.Response:
    """Create a user through SCIM (which writes the identity and its outbox event)."""
    scim = {**auth, "Content-Type": "application/scim+json"}
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}
    r = await h.client.post("/scim/v2/Users", content=json.dumps(user), headers=scim)
    assert r.status_code == 201, r.text
    return r
