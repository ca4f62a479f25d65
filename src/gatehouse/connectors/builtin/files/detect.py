"""What a file is: its format from its bytes (then its name), and its text encoding."""

from __future__ import annotations

import codecs
from pathlib import PurePath

import charset_normalizer

from gatehouse.connectors.protocol import CheckFailure, ConnectorError

FORMATS = ("csv", "json", "jsonl", "excel")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xlsb": "excel",
    ".xls": "excel",
    ".ods": "excel",
}
ZIP, OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SAMPLE = 64 * 1024


def bad_file(name: str, message: str) -> ConnectorError:
    """The error for a file that is not what it claims or cannot be read."""
    return ConnectorError(CheckFailure.config, f"{name}: {message}")


def detect_format(name: str, data: bytes, claimed: str = "auto") -> str:
    """The file's format: the caller's claim or the name's extension, checked against the bytes."""
    binary = "excel" if data.startswith((ZIP, OLE)) else None
    by_name = EXTENSIONS.get(PurePath(name).suffix.lower())
    expected = claimed if claimed != "auto" else by_name
    if expected == "excel" and binary is None:
        raise bad_file(
            name, "is named or declared an Excel workbook, but it is not one (no xlsx/xls header)"
        )
    if expected in ("csv", "json", "jsonl") and binary is not None:
        raise bad_file(
            name,
            f"is declared {expected.upper()} but is a binary workbook or archive; "
            "upload it as .xlsx, or export it as CSV first",
        )
    if expected is not None:
        return expected
    if binary is not None:
        return binary
    start = data[:SAMPLE].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if start[:1] in (b"[", b"{") else "csv"


def decode(name: str, data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text of a file and the encoding it was read with.

    A given encoding wins; then a byte-order mark; then UTF-8; then charset-normalizer's
    best guess on a sample; then cp1252 and latin-1, which read any bytes.
    """
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise bad_file(name, f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise bad_file(
                name, f"is not {encoding} (byte {exc.start}); leave `encoding` out to detect it"
            ) from None
    for bom, codec in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec
            except UnicodeDecodeError as exc:
                raise bad_file(name, f"starts like {codec} but byte {exc.start} is not") from None
    if b"\x00" in data[:SAMPLE]:
        raise bad_file(name, "contains NUL bytes: it is binary, not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = _guesses(data[:SAMPLE])
    for codec in (*candidates, "cp1252", "latin-1"):
        try:
            return data.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _guesses(sample: bytes) -> list[str]:
    """charset-normalizer's best encodings; among equals, cp1252 (Excel's Western CSVs) first."""
    results = charset_normalizer.from_bytes(sample)
    best = results.best()
    if best is None:
        return []
    tied = [m.encoding for m in results if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    return ["cp1252"] if "cp1252" in tied else [best.encoding]
