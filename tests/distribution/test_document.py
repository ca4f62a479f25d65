"""The data document: default shape, transitive groups, sensitivity, configuration."""

from __future__ import annotations

from tests.distribution.conftest import Org


async def test_default_document(org: Org) -> None:
    """Users by id with transitive groups and roles; groups by name; internal fields only."""
    doc = (await org.data())["gatehouse"]
    alice = doc["users"][org.users["alice"]]
    assert alice["userName"] == "alice"
    assert alice["groups"] == ["engineering", "staff"]
    assert alice["roles"] == ["developer"]
    assert alice["title"] == "Engineer"
    assert "email" not in alice and "emails" not in alice  # confidential: not allowed
    assert doc["users"][org.users["bob"]]["groups"] == []
    assert doc["groups"]["engineering"]["parents"] == ["staff"]
    assert doc["resources"] == {}
