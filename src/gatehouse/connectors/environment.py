"""What a connector may reach: set by Gatehouse around every connector call.

A connector takes `current()` when it is made (the SQL connectors keep it as `self.env`) and
passes it to `network_address` and `local_file`; nothing set means the strictest environment (no
private network, no local files), so a caller that forgets to set it fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from gatehouse.config import IPNetwork, Settings
from gatehouse.connectors.protocol import CheckFailure, ConnectorError
from gatehouse.kit.outbound import OutboundBlockedError, checked_address


@dataclass(frozen=True)
class Environment:
    """The networks and directories connectors may use."""

    outbound_allow: tuple[IPNetwork, ...] = ()
    file_roots: tuple[Path, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> Environment:
        """The environment the settings describe."""
        return cls(tuple(settings.outbound_allow), tuple(settings.effective_source_roots))


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
    """`path` resolved, if it lies under an allowed source directory; else a config error."""
    allowed = list(env.file_roots)
    resolved = Path(path).expanduser().resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in allowed):
        shown = ", ".join(str(r) for r in allowed) or "none configured"
        raise ConnectorError(
            CheckFailure.config,
            f"{path} is outside the directories sources may be read from ({shown}); move the "
            "file there or add its directory to GATEHOUSE_SOURCE_ROOTS",
        )
    return resolved
