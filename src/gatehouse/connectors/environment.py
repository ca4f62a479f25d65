"""What a connector may reach: set by Gatehouse around every connector call.

A connector takes `current()` when it is made (the SQL connectors keep it as `self.env`) and
passes it to `network_address` and `local_file`; nothing set means the strictest environment (no
private network, no local files), so a caller that forgets to set it fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from gatehouse.config import IPNetwork, Settings
from gatehouse.connectors.protocol import CheckFailure, ConnectorError
from gatehouse.kit.outbound import OutboundBlockedError, checked_address

_TENANT_DIR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")  # a tenant id: a slug, `_platform`


@dataclass(frozen=True)
class Environment:
    """The networks and directories connectors may use (the directories: one tenant's own)."""

    outbound_allow: tuple[IPNetwork, ...] = ()
    file_roots: tuple[Path, ...] = ()
    tenant: str = ""

    @classmethod
    def from_settings(cls, settings: Settings, tenant: str) -> Environment:
        """The environment the settings describe for `tenant`: its own source directories."""
        roots = tenant_roots(settings.effective_source_roots, tenant)
        return cls(tuple(settings.outbound_allow), roots, tenant)


def tenant_roots(roots: Iterable[Path], tenant: str) -> tuple[Path, ...]:
    """`<root>/<tenant>` of each source root: the only directories the tenant's sources read."""
    if not _TENANT_DIR.fullmatch(tenant):
        raise ValueError(f"{tenant!r} cannot name a source directory")
    return tuple(root / tenant for root in roots)


STRICT = Environment()
_current: ContextVar[Environment | None] = ContextVar("connector_environment", default=None)


def current() -> Environment:
    """The environment of the running connector call."""
    return _current.get() or STRICT


@contextmanager
def using(env: Environment) -> Iterator[None]:
    """Run connector calls inside `env`."""
    token = _current.set(env)
    try:
        yield
    finally:
        _current.reset(token)


async def network_address(host: str, port: int, env: Environment) -> str:
    """The checked address to open a socket to, or a ConnectorError naming the fix."""
    try:
        return await checked_address(host, port, env.outbound_allow)
    except OutboundBlockedError as exc:
        raise ConnectorError(CheckFailure.unreachable, str(exc)) from None
    except OSError as exc:  # DNS failure
        raise ConnectorError(
            CheckFailure.unreachable,
            f"cannot resolve host {host!r} ({exc}); check the host name and DNS",
            transient=True,
        ) from None


def local_file(path: str, env: Environment) -> Path:
    """`path` resolved inside the tenant's source directories (relative paths against them).

    Anything that resolves elsewhere (`..`, a symbolic link out, another tenant's file, an
    absolute path outside) gets one refusal whether or not it exists, naming no server directory.
    """
    if not env.file_roots:
        raise ConnectorError(CheckFailure.config, "this server lets sources read no local files")
    if "\x00" in path:
        raise _outside(path, env)
    inside: list[Path] = []
    for root in env.file_roots:
        try:
            base = root.resolve()
            resolved = (base / path).resolve()  # an absolute `path` replaces the base
            if not resolved.is_relative_to(base):  # `..` or a symbolic link out of one root
                raise _outside(path, env)
            if resolved.exists():
                return resolved
        except (OSError, RuntimeError, ValueError):  # a symbolic link loop, a bad name
            continue
        inside.append(resolved)
    if inside:
        return inside[0]
    raise _outside(path, env)


def shown(path: Path, env: Environment) -> str:
    """`path` as the tenant names it: relative to its source directory, never absolute."""
    for root in env.file_roots:
        try:
            return path.relative_to(root.resolve()).as_posix() or "."
        except (OSError, RuntimeError, ValueError):
            continue
    return path.name


def _outside(path: str, env: Environment) -> ConnectorError:
    where = f"GATEHOUSE_SOURCE_ROOTS/{env.tenant or '<tenant>'}/"
    return ConnectorError(
        CheckFailure.config,
        f"{path[:200]!r} is not in this tenant's source directory: give a path relative to it, "
        f"such as hr/people.csv (the operator places the tenant's files in {where})",
    )
