"""Real opal-server and opal-client processes on free loopback ports (their own virtualenv)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def opal_venv() -> Path | None:
    """The virtualenv `scripts/opal-venv` made (GATEHOUSE_OPAL_VENV overrides), if present."""
    given = os.environ.get("GATEHOUSE_OPAL_VENV")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = Path(given) if given else cache / "gatehouse" / "opal-venv" / "current"
    return venv if (venv / ".installed").exists() else None


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(workdir: Path) -> dict[str, str]:
    """An environment without OPAL_ settings from outside, quiet and offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPAL_", "GATEHOUSE_"))}
    env.pop("PYTHONPATH", None)
    env.update(
        OPAL_LOG_COLORIZE="false",
        OPAL_LOG_LEVEL="INFO",
        OPAL_STATISTICS_ENABLED="false",
        OPAL_ENABLE_DATADOG_APM="false",
        DD_TRACE_ENABLED="false",
        HOME=str(workdir),
    )
    return env


@contextlib.contextmanager
def running(
    args: list[str], env: dict[str, str], log: Path, health: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process, wait until `health` answers 200, stop it (its whole group) after."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=log.parent,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited: {log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} not healthy: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


@dataclass(frozen=True)
class OpalAuth:
    """Keys and master token for an opal-server that checks its callers' JWTs."""

    private_pem: str
    public_ssh: str
    master: str

    @classmethod
    def generate(cls) -> OpalAuth:
        """A fresh RSA key pair and master token."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
        return cls(private, public, secrets.token_urlsafe(24))

    def token(self, server: str, kind: str) -> str:
        """A JWT of `kind` (`datasource` or `client`) from the server's /token endpoint."""
        r = httpx.post(
            f"{server}/token",
            json={"type": kind},
            headers={"Authorization": f"Bearer {self.master}"},
            timeout=10,
        )
        r.raise_for_status()
        return str(r.json()["token"])


@contextlib.contextmanager
def opal_server(
    venv: Path, workdir: Path, port: int, data_sources: str, auth: OpalAuth | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """opal-server with one worker, no broadcaster, no policy repo; auth keys when given."""
    env = base_env(workdir)
    if auth is not None:
        env.update(
            OPAL_AUTH_PRIVATE_KEY=auth.private_pem,
            OPAL_AUTH_PUBLIC_KEY=auth.public_ssh,
            OPAL_AUTH_MASTER_TOKEN=auth.master,
        )
    env.update(
        OPAL_SERVER_HOST="127.0.0.1",
        OPAL_SERVER_BIND_PORT=str(port),
        OPAL_SERVER_WORKER_COUNT="1",
        OPAL_DATA_CONFIG_SOURCES=data_sources,
        OPAL_POLICY_REPO_CLONE_PATH=str(workdir / "policy-clone"),
    )
    log = workdir / "opal-server.log"
    args = [str(venv / "bin" / "opal-server"), "run"]
    with running(args, env, log, f"http://127.0.0.1:{port}/healthcheck") as proc:
        yield proc


@contextlib.contextmanager
def opal_client(
    venv: Path, workdir: Path, port: int, client_env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """opal-client with the mock policy store (no OPA binary to download), reporting back."""
    env = base_env(workdir)
    env.update(client_env)
    env.update(
        OPAL_POLICY_STORE_TYPE="MOCK",
        OPAL_INLINE_OPA_ENABLED="false",
        OPAL_POLICY_UPDATER_ENABLED="false",
        OPAL_CLIENT_API_SERVER_HOST="127.0.0.1",
        OPAL_CLIENT_API_SERVER_PORT=str(port),
        OPAL_CLIENT_API_SERVER_WORKER_COUNT="1",
        OPAL_STORE_BACKUP_PATH=str(workdir / "backup.json"),
    )
    if client_env.get("OPAL_CLIENT_TOKEN", "<").startswith("<"):
        env.pop("OPAL_CLIENT_TOKEN", None)
    log = workdir / "opal-client.log"
    args = [str(venv / "bin" / "opal-client"), "run"]
    with running(args, env, log, f"http://127.0.0.1:{port}/healthcheck") as proc:
        yield proc
