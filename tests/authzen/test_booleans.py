"""Booleans reach the embedded engine as booleans (regorus's Python conversion made them 1.0)."""

from __future__ import annotations

from tests.decisions.conftest import Api

POLICY = """package flags

input_true if input.flag == true

local_true if data.settings.flag == true
"""


async def test_booleans_in_input_and_local_data(api: Api) -> None:
    """`input.flag == true` and tenant-local `true` both hold."""
    assert (await api.put_policy("flags.rego", POLICY)).status_code == 200
    writer = api.h.auth(api.writer)
    resp = await api.h.client.put("/v1/data/settings", json={"flag": True}, headers=writer)
    assert resp.status_code == 204, resp.text
    assert (await api.ask("flags/input_true", {"flag": True}))["result"] is True
    assert (await api.ask("flags/local_true", {}))["result"] is True
