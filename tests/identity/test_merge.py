"""Precedence merge: what None means (unknown, retracted, cleared) and equal sources agreeing."""

from gatehouse.identity.merge import Nulls, Policy, merge

HR_FIRST = Policy(("email",), {"title": ["hr", "scim"]})
EQUAL = Policy(("email",), {})
CURRENT = {"title": "Engineer", "nick": None, "attributes": {"phones": ["1"], "desk": "4B"}}
HELD = {"title": "hr", "attributes.phones": "scim", "attributes.desk": "hr"}


def test_unknown_nulls_change_nothing() -> None:
    """A record that does not know a value leaves it (the connectors' default)."""
    merged = merge(CURRENT, HELD, HR_FIRST, "scim", {"title": None})
    assert (merged.changes, merged.losers, merged.provenance) == ({}, [], HELD)


def test_retraction_clears_only_what_the_source_set() -> None:
    """A full statement without a value withdraws the source's own value and its claim."""
    record = {"title": None, "attributes": {"phones": None, "desk": None, "none": None}}
    merged = merge(CURRENT, HELD, EQUAL, "scim", record, nulls=Nulls.RETRACTED)
    assert merged.changes == {"attributes": {"desk": "4B"}}
    assert merged.losers == []
    assert merged.provenance == {"title": "hr", "attributes.desk": "hr"}


def test_explicit_clears_follow_precedence() -> None:
    """A removal wins or loses like any value; losing is a conflict with offered None."""
    lost = merge(CURRENT, HELD, HR_FIRST, "scim", {"title": None}, nulls=Nulls.CLEARED)
    assert lost.changes == {}
    assert [(x.attribute, x.offered, x.kept) for x in lost.losers] == [("title", None, "Engineer")]
    won = merge(CURRENT, HELD, EQUAL, "scim", {"title": None}, nulls=Nulls.CLEARED)
    assert (won.changes, won.provenance["title"]) == ({"title": None}, "scim")


def test_an_equal_source_agreeing_takes_nothing_over() -> None:
    """Among equals the newest change wins, but repeating a value does not take it over."""
    same = merge(CURRENT, HELD, EQUAL, "scim", {"title": "Engineer"})
    assert (same.changes, same.provenance["title"]) == ({}, "hr")
    changed = merge(CURRENT, HELD, EQUAL, "scim", {"title": "Staff"})
    assert (changed.changes, changed.provenance["title"]) == ({"title": "Staff"}, "scim")
    stronger = merge(
        CURRENT, HELD, Policy((), {"title": ["scim", "hr"]}), "scim", {"title": "Engineer"}
    )
    assert (stronger.changes, stronger.provenance["title"]) == ({}, "scim")
