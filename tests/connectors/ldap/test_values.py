"""The pure parts: value conversions, BER controls, schema parsing, filters, ranges, state."""

from __future__ import annotations

import uuid

import pytest

from gatehouse.connectors.builtin.ldap import controls, schema, values
from gatehouse.connectors.builtin.ldap.client import ranged
from gatehouse.connectors.builtin.ldap.cursor import Checkpoint, Tracker
from gatehouse.connectors.builtin.ldap.settings import well_formed
from gatehouse.connectors.protocol import ConnectorError


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        (b"20240301120000Z", "2024-03-01T12:00:00Z"),
        (b"20240301120000.0Z", "2024-03-01T12:00:00Z"),
        (b"20240301120000.25Z", "2024-03-01T12:00:00.25Z"),
        (b"20240301140000+0200", "2024-03-01T12:00:00Z"),
        (b"202403011200Z", "2024-03-01T12:00:00Z"),
        (b"not a time", None),
    ],
)
def test_generalized_time(raw: bytes, iso: str | None) -> None:
    """GeneralizedTime in its forms becomes ISO-8601 UTC."""
    assert values.generalized_time(raw) == iso


def test_windows_values() -> None:
    """GUIDs, SIDs and FILETIMEs as people know them."""
    guid = uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff")
    assert values.guid(guid.bytes_le) == str(guid)
    sid = bytes([1, 2, 0, 0, 0, 0, 0, 5]) + (32).to_bytes(4, "little") + (544).to_bytes(4, "little")
    assert values.sid(sid) == "S-1-5-32-544"
    assert values.filetime(b"116444736000000000") == "1970-01-01T00:00:00Z"
    assert values.filetime(b"0") is None
    assert values.filetime(b"9223372036854775807") is None


def test_sort_control_encoding() -> None:
    """The sort request encodes one ascending key; the answer's code is read back."""
    assert controls.sort_request("cn") == bytes.fromhex("300630040402636e")
    assert controls.sort_result(bytes.fromhex("3003 0a01 00")) == 0
    assert controls.sort_result(bytes.fromhex("3003 0a01 35")) == 53
    assert controls.sort_result(b"") is None


def test_schema_parsing() -> None:
    """Attribute syntaxes resolve through SUP; classes list attributes through SUP."""
    parsed = schema.parse(
        [
            "( 2.5.4.41 NAME 'name' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
            "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
            "( 1.1 NAME 'flag' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )",
            "( 1.2 NAME 'stamp' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE "
            "NO-USER-MODIFICATION USAGE directoryOperation )",
        ],
        [
            "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
            "( 9.9 NAME 'thing' SUP top STRUCTURAL MUST cn MAY ( flag $ description ) )",
        ],
    )
    cn = parsed.attribute("commonName")
    assert cn is not None and cn.syntax == "1.3.6.1.4.1.1466.115.121.1.15" and not cn.single
    stamp = parsed.attribute("STAMP")
    assert stamp is not None and stamp.single and stamp.operational
    assert parsed.allowed(["thing"]) == ["cn", "flag", "description", "objectClass"]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("(cn=a)", True),
        ("(&(objectClass=user)(!(objectClass=computer)))", True),
        ("(|(mail=*@example.org)(uid=a\\2ab))", True),
        ("(userAccountControl:1.2.840.113556.1.4.803:=2)", True),
        ("(cn>=m)", True),
        ("cn=a", False),
        ("(=a)", False),
        ("(&)", False),
        ("(!(a=1)(b=2))", False),
        ("(cn=a))", False),
        ("(cn=a(b)", False),
    ],
)
def test_filter_syntax(text: str, ok: bool) -> None:
    """RFC 4515 filters are told from broken ones before they reach a server."""
    assert well_formed(text) is ok


def test_range_names() -> None:
    """AD's ranged attribute names are understood."""
    assert ranged("member;range=0-1499") == ("member", 0, 1499)
    assert ranged("member;range=1500-*") == ("member", 1500, None)
    assert ranged("member") is None


def test_checkpoint_state() -> None:
    """State round-trips; state from elsewhere is refused."""
    point = Checkpoint("20240301120000.000000", {"a": "x"}, complete=True)
    assert Checkpoint.load(point.dump("Z")) == point
    assert Checkpoint.load(None) is None
    for bad in ({"v": 2}, {"v": 1, "cursor": "yesterday"}, {"v": 1, "seen": {"a": 1}}):
        with pytest.raises(ConnectorError):
            Checkpoint.load(bad)


def test_tracker_never_passes_the_cap() -> None:
    """Changes newer than now-minus-look-back keep the cursor at the cap, remembered by id."""
    tracker = Tracker(Checkpoint(None, {}, complete=False), "20240301120000.000000")
    tracker.page(True)
    assert tracker.admit("old", "20240201000000.000000", {"n": 1})
    assert tracker.admit("new", "20240301130000.000000", {"n": 2})
    done = tracker.finish()
    assert done.cursor == "20240301120000.000000"
    assert set(done.seen) == {"new"}
    again = Tracker(done, "20240301140000.000000")
    again.page(True)
    assert not again.admit("new", "20240301130000.000000", {"n": 2})  # same content: skipped
    assert again.admit("new", "20240301130000.000000", {"n": 3})  # changed: emitted
