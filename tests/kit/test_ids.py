"""Identifiers are RFC 9562 version 7 UUIDs: unique, parseable and ordered by creation."""

from __future__ import annotations

import time
import uuid

from gatehouse.kit.ids import new_hex, new_id, new_ids


def test_ids_are_uuid7_and_increase() -> None:
    """Each id parses back to itself, version 7, RFC variant; a run of them is strictly sorted."""
    ids = new_ids(2000) + [new_id() for _ in range(500)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 7, uuid.RFC_4122)


def test_ids_carry_the_time_they_were_made() -> None:
    """The first 48 bits are the Unix time in milliseconds (what makes index inserts append)."""
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_id()).int >> 80
    after = time.time_ns() // 1_000_000
    assert before <= made <= after


def test_hex_form_for_request_ids() -> None:
    """Request ids are 32 lowercase hex digits of a UUIDv7."""
    text = new_hex()
    assert len(text) == 32 and int(text, 16) >= 0 and text == text.lower()
    assert uuid.UUID(hex=text).version == 7
