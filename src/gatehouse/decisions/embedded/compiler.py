"""Compiling tenants' Rego modules with regorus, and its messages as OPA's error entries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson
import regorus

from gatehouse.decisions import opa
from gatehouse.decisions.embedded.worker import clean

LOCATION = re.compile(r"-->\s*(?P<file>.*?):(?P<row>\d+):(?P<col>\d+)")
PACKAGE = re.compile(r"^\s*package\s+([^\s#]+)", re.MULTILINE)
COMPILE_MESSAGE = "error(s) occurred while compiling module(s)"


def parse_error(message: str) -> dict[str, Any]:
    """One OPA error entry (`rego_parse_error` or `rego_compile_error`) from a regorus message."""
    text = clean(message)
    lines = [line for line in text.splitlines() if line.strip()]
    said = next((ln.split("error:", 1)[1].strip() for ln in lines if "error:" in ln), "")
    entry: dict[str, Any] = {
        "code": "rego_parse_error" if said else "rego_compile_error",
        "message": said or (lines[-1].strip() if lines else "the module does not compile"),
    }
    where = LOCATION.search(text)
    if where:
        entry["location"] = {
            "file": where["file"],
            "row": int(where["row"]),
            "col": int(where["col"]),
        }
    entry["details"] = {"text": text}
    return entry


def package_of(raw: str) -> str:
    """The module's package (`data.` prefixed, as OPA lists it), or empty."""
    found = PACKAGE.search(raw)
    return f"data.{found.group(1)}" if found else ""


def engine_with(modules: Iterable[tuple[str, str]], rego_v0: bool = False) -> regorus.Engine:
    """A data-less engine holding these modules (raises RuntimeError as regorus does)."""
    engine = regorus.Engine()
    engine.set_rego_v0(rego_v0)
    for path, raw in modules:
        engine.add_policy(path, raw)
    return engine


def check(modules: dict[str, str], changed: str, rego_v0: bool = False) -> None:
    """Refuse (400, OPA's compile error) when `changed` or the set it joins does not compile."""
    if not PACKAGE.search(modules[changed]):
        entry = {"code": "rego_parse_error", "message": "package expected"}
        raise opa.error(400, "invalid_parameter", COMPILE_MESSAGE, opa_errors=[entry])
    try:
        engine_with(sorted(modules.items()), rego_v0)
    except RuntimeError as exc:
        raise opa.error(
            400, "invalid_parameter", COMPILE_MESSAGE, opa_errors=[parse_error(str(exc))]
        ) from None


def syntax_tree(policy_id: str, raw: str) -> Any:
    """The module's abstract syntax tree as regorus exports it (not OPA's AST shape); None
    when regorus cannot parse it (a module stored under an older parser)."""
    try:
        exported = engine_with([(policy_id, raw)]).get_ast_as_json()
    except RuntimeError:
        return None
    modules = orjson.loads(exported)
    return modules[0].get("ast") if modules else None
