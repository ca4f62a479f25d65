"""Decision ids made in bulk are version 4 UUIDs, all different."""

from __future__ import annotations

import uuid

from gatehouse.decisions.batch import decision_ids


def test_decision_ids_are_uuid4() -> None:
    """Each id parses back to itself, version 4, RFC 4122 variant."""
    ids = decision_ids(500)
    assert len(set(ids)) == 500
    for text in ids:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)
