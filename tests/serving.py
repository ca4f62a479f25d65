"""A real `gatehouse serve` process on a free loopback port, for tests that need TCP."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.cli.test_cli import free_port

GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")


@contextlib.contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """Start `gatehouse serve` with `env`, wait for /health, yield its URL; stop it after."""
    port = free_port()
    proc = subprocess.Popen(
        [GATEHOUSE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
