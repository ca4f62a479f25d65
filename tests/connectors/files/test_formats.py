"""Files as sources: format, encoding and delimiter detection, malformed rows, wrong files."""

from __future__ import annotations

import io
import struct
import zipfile
from datetime import date, datetime
from typing import Any

import pytest
import xlsxwriter

from gatehouse.connectors.builtin.files import FileOptions, FileSource, open_source
from gatehouse.connectors.protocol import ConnectorError, RecordError

PEOPLE = "id,name,email\n1,Zoë Ångström,zoe@example.com\n2,Jürgen Groß,j@example.com\n"


def rows(source: FileSource, stream: str | None = None) -> list[tuple[int, Any]]:
    """Every (row, record or reason) of a stream (the only one by default)."""
    table = source.tables[stream] if stream else next(iter(source.tables.values()))
    return list(table.rows())


def records(source: FileSource, stream: str | None = None) -> list[dict[str, Any]]:
    """The good records of a stream."""
    return [r for _, r in rows(source, stream) if isinstance(r, dict)]


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    """An .xlsx file with these sheets and rows."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for name, cells in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(cells):
            for c, value in enumerate(row):
                if isinstance(value, datetime | date):
                    sheet.write_datetime(r, c, value, stamp)
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("cp1252", b""),
        ("latin-1", b""),
    ],
)
def test_encodings_are_detected(encoding: str, prefix: bytes) -> None:
    source = open_source("people.csv", prefix + PEOPLE.encode(encoding))
    assert source.format == "csv"
    assert [r["name"] for r in records(source)] == ["Zoë Ångström", "Jürgen Groß"]
    assert list(source.tables) == ["people"]


def test_a_cp1252_file_with_smart_quotes_reads_right() -> None:
    text = "id,quote\n1,\u201cdone\u201d \u2013 ok\n" + "".join(
        f"{i},caf\u00e9\n" for i in range(2, 40)
    )
    source = open_source("q.csv", text.encode("cp1252"))
    assert records(source)[0]["quote"] == "\u201cdone\u201d \u2013 ok"


def test_a_given_encoding_wins_and_a_wrong_one_is_explained() -> None:
    data = PEOPLE.encode("latin-1")
    assert records(open_source("p.csv", data, FileOptions(encoding="latin-1")))[0]["name"] == (
        "Zoë Ångström"
    )
    with pytest.raises(ConnectorError, match=r"p\.csv: is not utf-8 .*leave `encoding` out"):
        open_source("p.csv", data, FileOptions(encoding="utf-8"))
    with pytest.raises(ConnectorError, match="unknown encoding 'klingon'"):
        open_source("p.csv", data, FileOptions(encoding="klingon"))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(delimiter: str) -> None:
    text = PEOPLE.replace(",", delimiter).replace("Zoë Ångström", '"Ångström, Zoë"')
    source = open_source("people.txt", text.encode())
    assert records(source)[0] == {"id": "1", "name": "Ångström, Zoë", "email": "zoe@example.com"}


def test_sniffing_falls_back_to_counting_the_header() -> None:
    text = "a;b;c\n" + "".join(f'x{i};"multi\nline";z\n' for i in range(3))
    assert records(open_source("f.csv", text.encode()))[0] == {
        "a": "x0",
        "b": "multi\nline",
        "c": "z",
    }
    single = open_source("one.csv", b"email\na@x.io\nb@x.io\n")
    assert records(single) == [{"email": "a@x.io"}, {"email": "b@x.io"}]


def test_header_rules_and_no_header() -> None:
    source = open_source("h.csv", b"\n id , ,name\n1,x,Ada\n")
    assert records(source) == [{"id": "1", "column_2": "x", "name": "Ada"}]
    bare = open_source("h.csv", b"1,Ada\n2,Bob\n", FileOptions(has_header=False))
    assert records(bare) == [
        {"column_1": "1", "column_2": "Ada"},
        {"column_1": "2", "column_2": "Bob"},
    ]
    with pytest.raises(ConnectorError, match="columns 1 and 3 are both called 'id'; rename one"):
        open_source("d.csv", b"id,name,id\n1,2,3\n")


def test_malformed_rows_are_row_errors_and_reading_goes_on() -> None:
    text = 'id,name\n1,Ada\n2,"Bob" Smith\n3,Cy,extra\n4,Di,\n\n5\n6,"Eve\n'
    found = rows(open_source("m.csv", text.encode()))
    assert found == [
        (1, {"id": "1", "name": "Ada"}),
        (2, "line 3: malformed CSV (',' expected after '\"')"),
        (3, "line 4: has 3 cells but the header names 2 columns"),
        (4, {"id": "4", "name": "Di"}),  # an empty extra cell fits
        (5, "line 7: has 1 cells but the header names 2 columns"),
        (6, "line 8: malformed CSV (unexpected end of data)"),
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("e.csv", b"", "is empty"),
        ("e.csv", b"  \n\n", "is empty"),
        ("bin.csv", b"id,name\n1,\x00\x01\x02", "NUL bytes: it is binary"),
        ("book.csv", b"PK\x03\x04rest-of-a-zip", "is declared CSV but is a binary workbook"),
        ("book.xlsx", b"id,name\n1,Ada\n", "named or declared an Excel workbook, but it is not"),
        ("broken.xlsx", b"PK\x03\x04not really a zip", "damaged workbook"),
        ("p.json", b"{not json", "is not valid JSON"),
        ("p.json", b'"just text"', "holds text; expected an array of objects"),
        ("p.json", b'{"a": 1, "b": {"c": 2}}', "no array of objects in it; give records_path"),
        ("h.csv", b'"unterminated,header\n', "the header row is not valid CSV"),
    ],
)
def test_files_that_are_not_what_they_claim(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ConnectorError, match=message) as caught:
        open_source(name, data)
    assert str(caught.value).startswith(f"{name}: ")


def test_a_declared_format_is_checked_and_an_unknown_name_is_sniffed() -> None:
    with pytest.raises(ConnectorError, match="Excel"):
        open_source("upload", PEOPLE.encode(), FileOptions(format="excel"))
    assert open_source("upload", b'[{"a": 1}]').format == "json"
    assert open_source("upload", PEOPLE.encode()).format == "csv"
    assert (
        open_source("data.txt", b'{"a": 1}\n{"a": 2}\n', FileOptions(format="jsonl")).format
        == "jsonl"
    )


def test_json_arrays_nested_objects_and_records_paths() -> None:
    doc = b'[{"id": 1, "contact": {"email": "a@x.io"}, "tags": ["x"]}, 5, {"id": 2}]'
    source = open_source("people.json", doc)
    assert rows(source) == [
        (1, {"id": 1, "contact": {"email": "a@x.io"}, "tags": ["x"]}),
        (2, "the record is a number, not an object"),
        (3, {"id": 2}),
    ]
    wrapped = b'{"meta": {"count": 2}, "data": {"users": [{"id": 1}], "groups": [{"cn": "g"}]}}'
    both = open_source("export.json", wrapped)
    assert list(both.tables) == ["data.users", "data.groups"]
    assert records(both, "data.groups") == [{"cn": "g"}]
    one = open_source("export.json", wrapped, FileOptions(records_path="data.users"))
    assert list(one.tables) == ["data.users"]
    with pytest.raises(ConnectorError, match="does not lead to an array"):
        open_source("export.json", wrapped, FileOptions(records_path="meta.count"))
    with pytest.raises(ConnectorError, match="is an array, so it has no records_path"):
        open_source("people.json", doc, FileOptions(records_path="x"))


def test_json_lines_by_name_or_content_with_bad_lines_as_row_errors() -> None:
    text = b'{"id": 1}\n\n{"id": 2\n[1]\n{"id": 3}\n'
    for name in ("people.jsonl", "people.ndjson", "people.json"):
        source = open_source(name, text)
        assert source.format in ("jsonl", "json")
        found = rows(source)
        assert found[0] == (1, {"id": 1})
        assert found[1][0] == 2 and found[1][1].startswith("line 3: not valid JSON")
        assert found[2] == (3, "line 4: the record is a list, not an object")
        assert found[3] == (4, {"id": 3})


def test_excel_sheets_are_streams_with_typed_cells() -> None:
    data = workbook(
        {
            "People": [
                ["id", "name", "hired", "salary", "manager", None],
                [1, "Ada", datetime(2015, 12, 10, 9, 30), 1234.5, True],
                [],
                [2, "Bob", None, 1000, False],
                [3, "Cy", None, None, None, "stray"],
            ],
            "Groups": [["cn", "members"], ["eng", "1 2"]],
            "Empty": [],
        }
    )
    source = open_source("org.xlsx", data)
    ada = {
        "id": 1,
        "name": "Ada",
        "hired": "2015-12-10T09:30:00",
        "salary": 1234.5,
        "manager": True,
    }
    assert source.format == "excel"
    assert list(source.tables) == ["People", "Groups", "Empty"]
    # A column with a value but no header is named like a blank CSV header: column_N.
    assert rows(source, "People") == [
        (1, {**ada, "column_6": ""}),
        (
            2,
            {"id": 2, "name": "Bob", "hired": "", "salary": 1000, "manager": False, "column_6": ""},
        ),
        (3, {"id": 3, "name": "Cy", "hired": "", "salary": "", "manager": "", "column_6": "stray"}),
    ]
    assert records(open_source("o.xlsx", workbook({"P": [["id"], [1, None, None]]}))) == [{"id": 1}]
    assert records(source, "Groups") == [{"cn": "eng", "members": "1 2"}]
    assert rows(source, "Empty") == []


def test_excel_header_duplicates_and_zip_bombs_are_refused() -> None:
    with pytest.raises(ConnectorError, match="sheet 'S': columns 1 and 2 are both called 'id'"):
        open_source("d.xlsx", workbook({"S": [["id", "id"], [1, 2]]}))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 1024)
    # Declare 4 GiB unpacked in the central directory, as a crafted bomb would.
    bomb = bytearray(buffer.getvalue())
    entry = bomb.index(b"PK\x01\x02")
    bomb[entry + 24 : entry + 28] = struct.pack("<I", 0xFFFFFF00)
    with pytest.raises(ConnectorError, match="unpacks to 4095 MiB, more than 1024 MiB"):
        open_source("bomb.xlsx", bytes(bomb))


def test_discover_types_keys_kinds_and_sensitivity() -> None:
    text = (
        "employee_id,email,salary,start,updated,active,level,notes,ssn\n"
        "E1,a@x.io,100.5,2020-01-02,2024-01-02T10:00:00Z,yes,3,,123\n"
        "E2,b@x.io,90,2021-02-03,2024-01-03T10:00:00Z,no,4,hi,456\n"
    )
    (stream,) = open_source("hr.csv", text.encode()).discover()
    fields = {f.name: (f.type, f.format, f.nullable, f.sensitivity.value) for f in stream.fields}
    assert fields == {
        "employee_id": ("string", None, False, "internal"),
        "email": ("string", "email", False, "confidential"),
        "salary": ("number", None, False, "restricted"),
        "start": ("string", "date", False, "internal"),
        "updated": ("string", "date-time", False, "public"),
        "active": ("boolean", None, False, "internal"),
        "level": ("integer", None, False, "internal"),
        "notes": ("string", None, True, "internal"),
        "ssn": ("integer", None, False, "restricted"),
    }
    assert stream.primary_key == ("employee_id",)
    assert stream.kind == "identity"
    (nested,) = open_source(
        "x.json", b'[{"id": 1, "contact": {"e": 1}}, {"id": 1, "tags": []}]'
    ).discover()
    assert {f.name: f.type for f in nested.fields} == {
        "id": "integer",
        "contact": "object",
        "tags": "array",
    }
    assert nested.primary_key == ()  # not unique in the sample


def test_batches_checkpoint_by_row_and_resume_after_it() -> None:
    text = "id\n" + "".join(f"{i}\n" for i in range(1, 8)) + '"bad\n'
    source = open_source("n.csv", text.encode())
    batches = list(source.batches("n", None, size=3))
    assert [[r["id"] for r in b.records] for b in batches] == [
        ["1", "2", "3"],
        ["4", "5", "6"],
        ["7"],
    ]
    assert [b.rows for b in batches] == [[1, 2, 3], [4, 5, 6], [7]]
    assert batches[-1].errors == [RecordError(8, "line 9: malformed CSV (unexpected end of data)")]
    assert [b.state["row"] for b in batches if b.state] == [3, 6, 8]
    resumed = list(source.batches("n", batches[0].state, size=3))
    assert [r["id"] for b in resumed for r in b.records] == ["4", "5", "6", "7"]
    done = list(source.batches("n", batches[-1].state))
    assert len(done) == 1 and done[0].records == [] and done[0].state == batches[-1].state
    other = open_source("n.csv", text.replace("7", "seven").encode())
    restarted = list(other.batches("n", batches[0].state, size=100))
    assert restarted[0].rows[0] == 1  # another file: the checkpoint does not apply
    with pytest.raises(ConnectorError, match=r"n\.csv has no stream 'people'; it has 'n'"):
        list(source.batches("people"))
