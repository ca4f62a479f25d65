"""Scope hierarchy rules."""

from gatehouse.auth.scopes import covers, grants, is_known


def test_exact_and_wildcards() -> None:
    """Exact names, resource wildcards and admin:* grant; others do not."""
    assert grants({"tokens:read"}, "tokens:read")
    assert not grants({"tokens:read"}, "tokens:write")
    assert grants({"tokens:*"}, "tokens:write")
    assert grants({"admin:*"}, "connections:write")
    assert not grants({"audit:read"}, "tokens:read")


def test_write_implies_read_only() -> None:
    """res:write grants res:read but not the other way round."""
    assert grants({"secrets:write"}, "secrets:read")
    assert not grants({"secrets:read"}, "secrets:write")


def test_platform_scopes_only_by_name() -> None:
    """admin:* never reaches platform administration."""
    assert not grants({"admin:*"}, "platform:admin")
    assert grants({"platform:admin"}, "platform:admin")


def test_covers_for_delegation() -> None:
    """A token can hand on only what it holds; wildcards need an equal or wider one."""
    assert covers(frozenset({"admin:*"}), ["tokens:*", "audit:read"])
    assert covers(frozenset({"tokens:write"}), ["tokens:read"])
    assert not covers(frozenset({"tokens:write"}), ["tokens:*"])
    assert not covers(frozenset({"tokens:read"}), ["admin:*"])


def test_catalog_membership() -> None:
    """Known names and resource wildcards are accepted; inventions are not."""
    assert is_known("connections:read")
    assert is_known("connections:*")
    assert not is_known("root")
    assert not is_known("platform:*")
