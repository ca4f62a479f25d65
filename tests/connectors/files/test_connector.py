"""The `file` connector over files under the source directories, and import_batches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gatehouse.config import load_settings
from gatehouse.connectors.builtin.files import FileConnector, import_batches
from gatehouse.connectors.environment import Environment, using
from gatehouse.connectors.protocol import (
    Batch,
    CheckFailure,
    Connector,
    ConnectorError,
    RecordError,
    SchemaChanged,
    Selection,
    SyncMode,
)
from gatehouse.connectors.registry import connector_type
from gatehouse.connectors.transform import MappingError, TransformFailed

CSV = "employee_number,login,mail\nE1,Ada,ada@x.io\nE2,Bob,not-an-address\nE3,Cy,cy@x.io\nE4\n"
MAPPING: dict[str, Any] = {
    "kind": "identity",
    "external_id": "employee_number",
    "fields": {
        "user_name": {"from": "login", "steps": ["lower"]},
        "email": {"from": "mail", "steps": ["email"]},
    },
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A source directory with a CSV and a workbook-named text file, and a secret beside it."""
    sources = tmp_path / "sources"
    (sources / "hr").mkdir(parents=True)
    (sources / "hr" / "people.csv").write_text(CSV)
    (sources / "fake.xlsx").write_text(CSV)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "other.csv").write_text(CSV)
    (tmp_path / "master.key").write_text("secret")
    return sources


def connector(root: Path) -> FileConnector:
    """The connector allowed to read under `root`."""
    return FileConnector(Environment(file_roots=(root,)))


async def read_all(
    connector: FileConnector, config: dict[str, Any], stream: str, state: Any = None
) -> list[Batch]:
    """Every batch of a read."""
    return [b async for b in connector.read(config, stream, SyncMode.full_refresh, state)]


def test_registered_under_file_and_implements_the_protocol(tmp_path: Path) -> None:
    assert connector_type("file") is FileConnector
    assert isinstance(FileConnector(), Connector)
    spec = FileConnector.spec()
    assert spec["required"] == ["path"]
    assert set(spec["properties"]) == {
        "path", "format", "encoding", "delimiter", "has_header", "records_path"
    }  # fmt: skip
    assert not any(p.get("x-secret") for p in spec["properties"].values())


def test_the_environment_of_the_call_is_taken_when_made(tmp_path: Path) -> None:
    env = Environment(file_roots=(tmp_path,))
    with using(env):
        assert FileConnector().env is env
    assert FileConnector().env.file_roots == ()  # nothing set: no local files at all
    settings = load_settings(home=tmp_path)
    made = Environment.from_settings(settings, "acme")
    assert (made.file_roots, made.tenant) == ((tmp_path / "sources" / "acme",), "acme")


async def test_check_discover_and_read(root: Path) -> None:
    files = connector(root)
    config = {"path": str(root / "hr" / "people.csv")}
    result = await files.check(config)
    assert result.ok, result.message
    assert result.message == "read people.csv as csv: 1 stream(s) (people)"
    assert result.details == {"format": "csv", "encoding": "utf-8"}
    (stream,) = await files.discover(config)
    assert [f.name for f in stream.fields] == ["employee_number", "login", "mail"]
    assert stream.primary_key == ("employee_number",)
    (batch,) = await read_all(files, config, "people")
    assert [r["login"] for r in batch.records] == ["Ada", "Bob", "Cy"]
    assert batch.errors == [RecordError(4, "line 5: has 1 cells but the header names 3 columns")]
    assert batch.state is not None and batch.state["row"] == 4
    rest = await read_all(files, config, "people", batch.state)
    assert rest == [Batch([], batch.state, [], [], 0)]


@pytest.mark.parametrize(
    ("path", "failure", "message"),
    [
        ("../other/other.csv", CheckFailure.config, "is not in this tenant's source directory"),
        ("../master.key", CheckFailure.config, "is not in this tenant's source directory"),
        ("/etc/passwd", CheckFailure.config, "GATEHOUSE_SOURCE_ROOTS/<tenant>/"),
        ("hr", CheckFailure.config, "hr is a directory"),
        ("missing.csv", CheckFailure.config, "there is no file missing.csv in this tenant's"),
        ("fake.xlsx", CheckFailure.config, "not one"),
        ("", CheckFailure.config, "give `path`"),
    ],
)
async def test_check_says_what_is_wrong(
    root: Path, path: str, failure: CheckFailure, message: str
) -> None:
    target = str(root / path) if path and not path.startswith("/") else path
    result = await connector(root).check({"path": target})
    assert not result.ok
    assert result.failure is failure
    assert message in result.message


async def test_symlinks_out_of_the_directory_are_refused(root: Path) -> None:
    os.symlink(root.parent / "master.key", root / "key.csv")
    result = await connector(root).check({"path": str(root / "key.csv")})
    assert result.failure is CheckFailure.config
    assert "not in this tenant's source directory" in result.message


async def test_bad_options_incremental_reads_unknown_streams_and_no_roots(root: Path) -> None:
    files = connector(root)
    path = str(root / "hr" / "people.csv")
    result = await files.check({"path": path, "delimiter": ";;", "color": "red"})
    assert result.failure is CheckFailure.config
    assert "delimiter" in result.message and "color" in result.message
    with pytest.raises(ConnectorError, match="full_refresh"):
        await anext(files.read({"path": path}, "people", SyncMode.incremental, None))
    with pytest.raises(SchemaChanged, match="has no stream 'staff'; it has 'people'"):
        await read_all(files, {"path": path}, "staff")
    strict = await FileConnector().check({"path": path})
    assert strict.failure is CheckFailure.config
    assert "read no local files" in strict.message


async def test_a_file_too_big_is_refused_before_reading(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gatehouse.connectors.builtin.files.connector.MAX_BYTES", 10)
    result = await connector(root).check({"path": str(root / "hr" / "people.csv")})
    assert result.failure is CheckFailure.config
    assert "larger than" in result.message


def test_import_batches_transforms_and_reports_rows() -> None:
    (batch,) = import_batches("people.csv", CSV.encode(), MAPPING)
    assert [o.data["user_name"] for o in batch.outputs] == ["ada", "cy"]
    assert batch.errors == [
        RecordError(2, "not an e-mail address (no local part, '@' and domain)", "email"),
        RecordError(4, "line 5: has 1 cells but the header names 3 columns"),
    ]
    assert batch.rows == 4
    assert batch.state is not None and batch.state["row"] == 4
    small = list(import_batches("people.csv", CSV.encode(), MAPPING, batch_size=2))
    assert [len(b.outputs) for b in small] == [1, 1]
    resumed = list(import_batches("people.csv", CSV.encode(), MAPPING, state=small[0].state))
    assert [o.external_id for b in resumed for o in b.outputs] == ["E3"]


def test_import_batches_fails_early_or_at_the_first_bad_row() -> None:
    with pytest.raises(MappingError):
        import_batches("people.csv", CSV.encode(), {"kind": "identity", "fields": {}})
    with pytest.raises(ConnectorError, match="is empty"):
        import_batches("people.csv", b"", MAPPING)
    with pytest.raises(ConnectorError, match="no stream 'x'"):
        import_batches("people.csv", CSV.encode(), MAPPING, stream="x")
    batches = import_batches("people.csv", CSV.encode(), MAPPING, on_error="fail")
    with pytest.raises(TransformFailed, match="row 2, email"):
        list(batches)


async def test_a_read_keeps_the_selected_fields_and_names_lost_ones(root: Path) -> None:
    files = connector(root)
    config = {"path": str(root / "hr" / "people.csv")}
    (batch,) = [
        b
        async for b in files.read(
            config, "people", SyncMode.full_refresh, None, Selection(fields=("login",))
        )
    ]
    assert batch.records == [{"login": "Ada"}, {"login": "Bob"}, {"login": "Cy"}]
    with pytest.raises(SchemaChanged, match="has no field 'phone', 'fax' any more"):
        async for _ in files.read(
            config, "people", SyncMode.full_refresh, None, Selection(fields=("phone", "fax"))
        ):
            pass
    (root / "people.json").write_text('[{"id": 1, "contact": {"e": "x"}}, {"id": 2, "x": 1}]')
    json_config = {"path": str(root / "people.json")}
    (batch,) = [
        b
        async for b in files.read(
            json_config, "people", SyncMode.full_refresh, None, Selection(fields=("contact", "x"))
        )
    ]
    assert batch.records == [{"contact": {"e": "x"}, "x": None}, {"contact": None, "x": 1}]


async def test_a_relative_path_is_read_from_the_tenant_s_directories(tmp_path: Path) -> None:
    """`hr/people.csv` is the file in the tenant's directory (under the first root that has it),
    not one in the server's working directory; a symbolic link out of it is refused."""
    first, second = tmp_path / "a", tmp_path / "b"
    (first / "acme").mkdir(parents=True)
    (second / "acme" / "hr").mkdir(parents=True)
    (second / "acme" / "hr" / "people.csv").write_text(CSV)
    (second / "globex").mkdir()
    (second / "globex" / "pay.csv").write_text(CSV)
    (first / "acme" / "theirs").symlink_to(second / "globex", target_is_directory=True)
    settings = load_settings(home=tmp_path, source_roots=[first, second])
    files = FileConnector(Environment.from_settings(settings, "acme"))
    result = await files.check({"path": "hr/people.csv"})
    assert result.ok, result.message
    for path in ("theirs/pay.csv", "../../b/globex/pay.csv", "hr/\x00people.csv"):
        refused = await files.check({"path": path})
        assert not refused.ok and "not in this tenant's source directory" in refused.message
        assert str(tmp_path) not in refused.message
    with pytest.raises(ValueError, match="cannot name a source directory"):
        Environment.from_settings(settings, "../globex")
