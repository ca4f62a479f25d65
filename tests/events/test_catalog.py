"""The catalog holds every event type the code emits, each with a valid JSON Schema."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import gatehouse
from gatehouse.events.catalog import CATALOG, NAMES, require

SRC = Path(gatehouse.__file__).parent
# Functions that write an outbox row, and the position of the event type among their arguments.
WRITERS = {"emit": 2, "record_change": 2, "event_row": 1, "_event": 1}


def _type_args() -> list[tuple[str, ast.expr]]:
    """Every event-type argument passed to an outbox writer in src/, with where it is."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            at = WRITERS.get(name)
            if at is None or len(node.args) <= at:
                continue  # another function of that name (ldap's emit(record))
            found.append((f"{path.relative_to(SRC)}:{node.lineno}", node.args[at]))
    return found


def _pattern(arg: ast.JoinedStr) -> re.Pattern[str]:
    parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z_]+" for v in arg.values]
    return re.compile("".join(parts))


def test_every_emitted_literal_type_is_in_the_catalog() -> None:
    """Literal and f-string types name catalog entries; the rest pass `require` at run time."""
    args = _type_args()
    literal = [(where, a.value) for where, a in args if isinstance(a, ast.Constant)]
    assert len(literal) >= 10, literal  # the scan finds the writers
    for where, value in literal:
        assert value in NAMES, f"{where}: {value!r} is not in the event catalog"
    for where, arg in args:
        if isinstance(arg, ast.JoinedStr):
            pattern = _pattern(arg)
            assert any(pattern.fullmatch(n) for n in NAMES), f"{where}: no catalog type fits"
    issue = {"sync.started", "sync.completed", "sync.failed", "bundle.published"}
    issue |= {"opal.published", "token.created", "token.revoked"}
    assert issue <= {v for _, v in literal}


def test_the_outbox_refuses_an_uncatalogued_type() -> None:
    """A type missing from the catalog fails where it is written, so the catalog cannot drift."""
    assert require("sync.completed") == "sync.completed"
    with pytest.raises(ValueError, match=r"not in gatehouse\.events\.catalog"):
        require("sync.exploded")


def test_every_schema_is_a_valid_json_schema() -> None:
    """Each type's data schema is itself a valid JSON Schema (2020-12)."""
    assert len({e.name for e in CATALOG}) == len(CATALOG)
    for event_type in CATALOG:
        Draft202012Validator.check_schema(event_type.schema)
