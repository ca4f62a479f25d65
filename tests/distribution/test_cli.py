"""`gatehouse bundle build`, run as a user would, checked like OPA checks a bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatehouse.bootstrap import prepare
from gatehouse.config import Settings
from gatehouse.distribution.signing import generate, private_pem, public_pem
from tests.distribution.conftest import unpack
from tests.distribution.opa_verify import verify

pytestmark = pytest.mark.xdist_group("cli")
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")


def gh(env: dict[str, str], *args: str, code: int = 0) -> str:
    """Run a gatehouse command; check its exit code; return its output."""
    proc = subprocess.run([GATEHOUSE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


async def test_bundle_build_writes_a_verifiable_bundle(tmp_path: Path) -> None:
    """Unsigned by default (no tenant key), signed with --sign-key; unknown tenants refused."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update({"GATEHOUSE_HOME": str(tmp_path / "var"), "COLUMNS": "200"})
    await prepare(Settings(home=tmp_path / "var", _env_file=None), demo=True)  # type: ignore[call-arg]
    plain = tmp_path / "plain.tar.gz"
    assert "unsigned" in gh(env, "bundle", "build", "--tenant", "demo", "--out", str(plain))
    files = unpack(plain.read_bytes())
    assert set(files) == {".manifest", "data.json"}
    users = json.loads(files["data.json"])["gatehouse"]["users"]
    assert len(users) == 50 and any(u["groups"] for u in users.values())
    key = generate("ES256")
    pem = tmp_path / "airgap.pem"
    pem.write_text(private_pem(key))
    signed = tmp_path / "signed.tar.gz"
    out = gh(
        env,
        "bundle",
        "build",
        "--tenant",
        "demo",
        "--out",
        str(signed),
        "--sign-key",
        str(pem),
        "--key-id",
        "airgap",
        "--scope",
        "read",
    )
    assert "signed" in out
    claims = verify(unpack(signed.read_bytes()), {"airgap": ("ES256", public_pem(key))}, "read")
    assert claims["keyid"] == "airgap"
    assert "no tenant" in gh(
        env, "bundle", "build", "--tenant", "nope", "--out", str(plain), code=2
    )
