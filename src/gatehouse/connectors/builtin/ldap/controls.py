"""The few BER bits both client libraries need: the RFC 2891 sort control and its answer."""

from __future__ import annotations

PAGED_OID = "1.2.840.113556.1.4.319"
SORT_OID = "1.2.840.113556.1.4.473"
SORT_RESULT_OID = "1.2.840.113556.1.4.474"
# A page answered "busy" is asked again after these pauses (seconds): OpenLDAP's sssvlv updates
# a connection's paged state after it has sent the page, so a quick next request can race it.
BUSY_WAITS = (0.01, 0.05, 0.2, 0.5, 1.0)


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def sort_request(attribute: str) -> bytes:
    """SortKeyList ::= SEQUENCE OF SEQUENCE { attributeType }: ascending on one attribute."""
    return _tlv(0x30, _tlv(0x30, _tlv(0x04, attribute.encode())))


def sort_result(value: bytes | None) -> int | None:
    """The sortResult code of a SortResult control value (0 = sorted), None if unreadable."""
    if not value or value[0] != 0x30 or len(value) < 2:
        return None
    at = 2 + (value[1] & 0x7F if value[1] & 0x80 else 0)  # skip the SEQUENCE header
    if len(value) < at + 3 or value[at] != 0x0A:  # ENUMERATED
        return None
    size = value[at + 1]
    return int.from_bytes(value[at + 2 : at + 2 + size], "big")
