"""Bounded gzip decoding and Go's RFC 3339 timestamps, on their own."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from gatehouse.fleet.timestamps import optional_time, parse_rfc3339, rfc3339
from gatehouse.fleet.wire import decode
from gatehouse.kit.problems import Problem


def test_the_limit_is_exact() -> None:
    """A body of exactly the limit decodes; one byte more is 413, whatever the compression."""
    body = b"x" * 10_000
    assert decode(gzip.compress(body), "gzip", 10_000, "") == body
    with pytest.raises(Problem) as refused:
        decode(gzip.compress(body + b"x"), "gzip", 10_000, "hint")
    assert refused.value.status == 413 and refused.value.detail.endswith("hint")
    assert decode(body, "", 10_000, "") == body
    with pytest.raises(Problem):
        decode(body + b"x", "identity", 10_000, "")


def test_members_and_padding() -> None:
    """Concatenated members are one stream; zero padding after the last is ignored."""
    data = gzip.compress(b"[1,") + gzip.compress(b"2]") + b"\x00" * 16
    assert decode(data, "GZIP", 100, "") == b"[1,2]"
    with pytest.raises(Problem) as junk:
        decode(gzip.compress(b"[1]") + b"junk", "gzip", 100, "")
    assert junk.value.status == 400


def test_gzip_without_the_header_is_still_read() -> None:
    """A proxy may drop Content-Encoding: gzip data is recognised by its magic bytes."""
    assert decode(gzip.compress(b"[]"), "", 100, "") == b"[]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05.123456789Z", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02t03:04:05z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_rfc3339(text: str, expected: datetime) -> None:
    """Nanoseconds are cut to microseconds; offsets become UTC."""
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", ["2026-01-02", "2026-01-02T03:04:05", "yesterday", ""])
def test_not_rfc3339(text: str) -> None:
    """Dates, zone-less times and prose are refused."""
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339(text)


def test_go_zero_time_is_never() -> None:
    """OPA's `0001-01-01T00:00:00Z` means the event never happened."""
    assert optional_time(parse_rfc3339("0001-01-01T00:00:00Z")) is None
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
