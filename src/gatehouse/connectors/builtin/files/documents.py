"""JSON files: an array of objects, arrays of objects inside an object, or JSON lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

import orjson

from gatehouse.connectors.builtin.files.detect import bad_file
from gatehouse.connectors.builtin.files.tables import Row, Table
from gatehouse.connectors.transform.normalize import kind_of
from gatehouse.connectors.transform.paths import getter, parse_path

MAX_DEPTH = 3  # how deep an object is searched for arrays of records


def json_tables(name: str, content: str, records_path: str | None = None) -> list[Table]:
    """The tables of a JSON document, or of JSON lines when the document is one object a line."""
    stem = PurePath(name).stem or name
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        if _looks_like_lines(content):
            return [jsonl_table(name, content)]
        raise bad_file(name, f"is not valid JSON ({exc})") from None
    if isinstance(document, list):
        if records_path:
            raise bad_file(name, "is an array, so it has no records_path to follow; leave it out")
        return [Table(stem, None, lambda: _items(document), document.__len__)]
    if not isinstance(document, dict):
        raise bad_file(name, f"holds {kind_of(document)}; expected an array of objects")
    if records_path:
        try:
            found = getter(parse_path(records_path))(document)
        except ValueError as exc:
            raise bad_file(name, f"records_path is not a path: {exc}") from None
        if not isinstance(found, list):
            raise bad_file(name, f"records_path {records_path!r} does not lead to an array")
        return [Table(records_path, None, lambda: _items(found), found.__len__)]
    arrays = list(_arrays(document, ()))
    if not arrays:
        raise bad_file(
            name, "is an object with no array of objects in it; give records_path to the records"
        )
    return [Table(path, None, _bind(items), items.__len__) for path, items in arrays]


def jsonl_table(name: str, content: str) -> Table:
    """JSON lines: one object a line; a line that is not one is that row's error."""

    def rows() -> Iterator[Row]:
        number = 0
        for line_number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            number += 1
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield number, f"line {line_number}: not valid JSON ({exc})"
                continue
            yield number, item if isinstance(item, dict) else _not_object(item, line_number)

    return Table(PurePath(name).stem or name, None, rows)


def _looks_like_lines(content: str) -> bool:
    first = next((line for line in content.splitlines() if line.strip()), "")
    try:
        return isinstance(orjson.loads(first), dict) and content.count("\n") > 0
    except orjson.JSONDecodeError:
        return False


def _items(items: list[Any]) -> Iterator[Row]:
    for number, item in enumerate(items, start=1):
        yield number, item if isinstance(item, dict) else _not_object(item, None)


def _bind(items: list[Any]) -> Any:
    return lambda: _items(items)


def _not_object(item: Any, line: int | None) -> str:
    where = f"line {line}: " if line is not None else ""
    return f"{where}the record is {kind_of(item)}, not an object"


def _arrays(node: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[str, list[Any]]]:
    """Arrays whose items are mostly objects, by dotted path, MAX_DEPTH levels down at most."""
    for key, value in node.items():
        here = (*path, key)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            yield ".".join(here), value
        elif isinstance(value, dict) and len(here) < MAX_DEPTH:
            yield from _arrays(value, here)
