"""OPAL fixtures: a tenant with OPAL settings, and a loopback server recording /data/config."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from gatehouse.config import Settings
from tests.conftest import Harness, started
from tests.distribution.conftest import Org, acme

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


@dataclass
class Recorder:
    """What a stand-in OPAL server received, and the status it answers with."""

    url: str = ""
    status: int = 200
    updates: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    # Called with each update taken, as OPAL's server hands it to its pub/sub.
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)


@pytest.fixture
def opal_server() -> Iterator[Recorder]:
    """A loopback HTTP server taking `POST /data/config` as OPAL's server does."""
    yield from recording()


@pytest.fixture
def other_opal_server() -> Iterator[Recorder]:
    """A second one: another OPAL server settings could be pointed at."""
    yield from recording()


def recording() -> Iterator[Recorder]:
    """Run a recording OPAL server stand-in while the generator is open."""
    seen = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.path == "/data/config" and seen.status < 300:
                seen.updates.append(json.loads(body))
                seen.auth.append(self.headers.get("authorization", ""))
                for listener in seen.listeners:
                    listener(seen.updates[-1])
            self.send_response(seen.status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status":"ok"}')

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    """The app allowed to reach loopback, as the tests' OPAL servers are there."""
    allowed = settings.model_copy(
        update={
            "outbound_allow": LOOPBACK,
            "opal_poll_seconds": 0.05,
            "opal_retry_max_seconds": 0.2,
        }
    )
    async with started(allowed) as h:
        yield h


@pytest.fixture
async def org(harness: Harness) -> Org:
    """Tenant `acme` (as for distribution), in an app that may reach loopback."""
    return await acme(harness)


def opal_settings(server: str, **extra: Any) -> dict[str, Any]:
    """Enabled settings pointing at `server`, with both tokens."""
    body: dict[str, Any] = {
        "enabled": True,
        "server_url": server,
        "fetch_base_url": "http://gatehouse.test",
        "datasource_token": "opal-datasource-secret",
        "fetch_token": "gth_fetch_secret",
        "debounce_seconds": 0,
    }
    body.update(extra)
    return body


async def configure(org: Org, server: str, **extra: Any) -> httpx.Response:
    """PUT the tenant's OPAL settings as its admin."""
    return await org.h.client.put(
        "/pip/opal/settings", json=opal_settings(server, **extra), headers=org.headers(org.admin)
    )


async def eventually(check: Any, seconds: float = 20.0) -> Any:
    """Poll an async check until it returns something truthy (or fail after `seconds`)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "gave up waiting"
        await asyncio.sleep(0.05)


async def opal_status(org: Org) -> dict[str, Any]:
    """The tenant's OPAL status."""
    r = await org.h.client.get("/pip/opal/status", headers=org.headers(org.admin))
    assert r.status_code == 200, r.text
    return dict(r.json())
