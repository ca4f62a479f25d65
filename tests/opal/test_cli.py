"""`gatehouse opal publish`, run as a user would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gatehouse.audit.context import Actor
from gatehouse.bootstrap import prepare
from gatehouse.config import Settings
from gatehouse.db.engine import Database
from gatehouse.opal.schemas import OpalSettingsIn
from gatehouse.opal.service import put_settings
from gatehouse.secrets.keyring import load_keyring
from tests.distribution.test_cli import gh
from tests.opal.conftest import Recorder, opal_settings

pytestmark = pytest.mark.xdist_group("cli")


async def test_publish_sends_now_or_leaves_it_queued(tmp_path: Path, opal_server: Recorder) -> None:
    """Delivered when OPAL answers; queued with the error shown when it does not; a tenant
    without OPAL settings is refused."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(
        {
            "GATEHOUSE_HOME": str(tmp_path / "var"),
            "GATEHOUSE_OUTBOUND_ALLOW": "127.0.0.0/8",
            "COLUMNS": "200",
        }
    )
    cfg = Settings(home=tmp_path / "var", _env_file=None)  # type: ignore[call-arg]
    await prepare(cfg, demo=True)
    assert "not enabled" in gh(env, "opal", "publish", "--tenant", "demo", code=2)
    db = Database(cfg.effective_database_url)
    try:
        async with db.transaction() as session:
            ring = await load_keyring(session, cfg)
            body = OpalSettingsIn.model_validate(opal_settings(opal_server.url))
            await put_settings(session, ring, Actor("demo", "test"), body)
    finally:
        await db.dispose()
    assert "delivered" in gh(env, "opal", "publish", "--tenant", "demo")
    (update,) = opal_server.updates
    assert update["entries"][0]["url"] == "http://gatehouse.test/opal/pip-data/demo"
    assert update["reason"] == "published from the CLI"
    opal_server.status = 503
    out = gh(env, "opal", "publish", "--tenant", "demo")
    assert "pending" in out and "503" in out
