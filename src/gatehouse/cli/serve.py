"""`gatehouse serve`: prepare the database and run the API under uvicorn."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from gatehouse.bootstrap import Prepared, prepare
from gatehouse.cli.common import console, fail, run, settings
from gatehouse.config import load_settings


def factory() -> FastAPI:
    """The app for uvicorn workers, built from the environment."""
    from gatehouse.app import create_app

    return create_app(load_settings())


def _tour(url: str, prepared: Prepared, again: str) -> None:
    token = prepared.demo_token
    console.rule("[bold]Gatehouse demo")
    console.print(f"API          {url}")
    console.print(f"OpenAPI docs {url}/docs")
    if token is None:
        console.print(
            "The demo tenant's admin token was printed when it was created and is not stored.\n"
            f"Get a new one with: [bold]{again}[/]"
        )
        token = "$TOKEN"  # noqa: S105 (a shell variable name, as the docs use)
    else:
        console.print(
            f"Demo token   [bold green]{token}[/]  (shown once; tenant `demo`, admin:*)",
            soft_wrap=True,
        )
    console.print("\nTry:")
    console.print(f"  curl -s {url}/ready", highlight=False, soft_wrap=True)
    auth = f'-H "Authorization: Bearer {token}"'
    for line in (
        f"curl -s {auth} {url}/v1/integration/tokens",
        f'curl -s {auth} -H "Content-Type: application/json" '
        f'-d \'{{"name":"ci","scopes":["audit:read"]}}\' {url}/v1/integration/tokens',
        f"curl -s {auth} {url}/pip/audit/logs",
    ):
        console.print("  " + line, highlight=False, soft_wrap=True)
    console.rule()


def check_port(host: str, port: int) -> None:
    """Fail in one line, before any side effect, when the address cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot bind {host}:{port}: {exc.strerror}; pass --host with a local address")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            fail(
                f"cannot listen on {host}:{port}: {exc.strerror}; stop what listens there "
                "or pass --port with a free port"
            )


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (GATEHOUSE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (GATEHOUSE_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[bool, typer.Option(help="Create a `demo` tenant and admin token.")] = False,
    new_token: Annotated[bool, typer.Option(help="With --demo: mint another token.")] = False,
) -> None:
    """Apply migrations, open the key ring, and serve the API."""
    cfg = settings()
    bind_host, bind_port = host or cfg.host, port or cfg.port
    check_port(bind_host, bind_port)  # before anything is written or a token minted
    prepared = run(prepare(cfg, demo=demo, new_token=new_token))
    console.print(f"database ready at revision {prepared.revision}")
    if demo:
        again = "gatehouse serve --demo --new-token"
        again += f" --host {host}" if host else ""
        again += f" --port {port}" if port else ""
        _tour(f"http://{bind_host}:{bind_port}", prepared, again)
    os.environ.setdefault("GATEHOUSE_HOME", str(cfg.home))
    uvicorn.run(
        "gatehouse.cli.serve:factory",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        log_config=None,
        # Gatehouse writes its own access lines; uvicorn's would format every request's path
        # (quoting it) only to drop the line at WARNING.
        access_log=False,
        proxy_headers=False,
    )
