"""`gatehouse webhook add|list|test|deliveries`, run as a user would."""

import os
import re
import socket
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from gatehouse.bootstrap import prepare
from gatehouse.config import Settings
from tests.distribution.test_cli import gh
from tests.webhooks.conftest import Receiver

pytestmark = pytest.mark.xdist_group("cli")


async def test_add_list_test_deliveries(tmp_path: Path, receiver: Receiver) -> None:
    """An endpoint added from the CLI receives a verifiable test message; attempts are listed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(
        {
            "GATEHOUSE_HOME": str(tmp_path / "var"),
            "GATEHOUSE_OUTBOUND_ALLOW": "127.0.0.0/8",
            "COLUMNS": "200",
        }
    )
    await prepare(Settings(home=tmp_path / "var", _env_file=None), demo=True)  # type: ignore[call-arg]
    out = gh(
        env,
        "webhook",
        "add",
        "--tenant",
        "demo",
        "--url",
        receiver.url,
        "--event-type",
        "identity.*",
    )
    endpoint_id = re.search(r"endpoint (\S+)", out).group(1)  # type: ignore[union-attr]
    secret = re.search(r"(whsec_\S+)", out).group(1)  # type: ignore[union-attr]
    receiver.secrets.append(secret)
    assert endpoint_id in gh(env, "webhook", "list", "--tenant", "demo")
    assert "delivered: status 200" in gh(env, "webhook", "test", "--tenant", "demo", endpoint_id)
    assert receiver.verified[-1]["type"] == "webhook.test" and receiver.rejected == 0
    Webhook(secret)  # the printed secret is one receivers' libraries accept
    shown = gh(env, "webhook", "deliveries", "--tenant", "demo", endpoint_id)
    assert "webhook.test" in shown and "1 attempts, 1 succeeded (100.0%)" in shown
    assert secret not in gh(env, "webhook", "list", "--tenant", "demo")
    assert "No webhook endpoint" in gh(
        env, "webhook", "deliveries", "--tenant", "other", endpoint_id, code=2
    )


async def test_failed_test_delivery_exits_1(tmp_path: Path) -> None:
    """`webhook test` exits 1 when the endpoint did not take the message, like `connect test`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update({"GATEHOUSE_HOME": str(tmp_path / "var"), "GATEHOUSE_OUTBOUND_ALLOW": "127.0.0.0/8"})
    await prepare(Settings(home=tmp_path / "var", _env_file=None), demo=True)  # type: ignore[call-arg]
    with socket.socket() as closed:  # a port nothing listens on once the socket is closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    added = gh(env, "webhook", "add", "--tenant", "demo", "--url", f"http://127.0.0.1:{port}/")
    endpoint_id = re.search(r"endpoint (\S+)", added).group(1)  # type: ignore[union-attr]
    out = gh(env, "webhook", "test", "--tenant", "demo", endpoint_id, code=1)
    assert out.startswith("failed")
