"""The multipart body of POST /pip/import: the file, the mapping and the options."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from gatehouse.imports.prepare import file_name, options_of, too_large
from gatehouse.imports.schemas import ImportOptions
from gatehouse.kit.problems import Problem

MAX_FIELD = 1024 * 1024  # the mapping and each option; lookup tables make mappings large
FORM_OVERHEAD = 2 * MAX_FIELD  # what a body may carry beside the file itself
IMPORT_PATH = "/pip/import"
HOW = "send multipart/form-data: -F file=@people.csv -F mapping=@mapping.json"


@dataclass(frozen=True)
class Upload:
    """What the client sent, read once: the file's bytes are the only copy in memory."""

    name: str
    data: bytes
    mapping: Any
    options: ImportOptions


def body_limit(max_bytes: int) -> tuple[int, str]:
    """The request body limit of POST /pip/import and what a client over it is told to do."""
    return (
        max_bytes + FORM_OVERHEAD,
        f"Imports take files of at most {max_bytes} bytes (GATEHOUSE_IMPORT_MAX_BYTES); "
        "split the file, or raise the limit.",
    )


@asynccontextmanager
async def open_form(request: Request) -> AsyncIterator[FormData]:
    """The parsed body, its spooled files removed afterwards.

    Call it after authentication, so that strangers cannot make Gatehouse read an upload.
    """
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Problem(415, f"Upload the file as a form: {HOW}.")
    try:
        form = await request.form(max_files=2, max_fields=20, max_part_size=MAX_FIELD)
    except HTTPException as exc:  # malformed multipart (400) or the body limit (413)
        raise Problem(exc.status_code, f"{exc.detail}; {HOW}.") from None
    try:
        yield form
    finally:
        await form.close()


def upload_name(form: FormData) -> str:
    """The uploaded file's name, cleaned (for errors and audit before the form is checked)."""
    part = form.get("file")
    return file_name(part.filename if isinstance(part, UploadFile) else None)


async def read_upload(form: FormData, max_bytes: int) -> Upload:
    """The file (read into memory once), the mapping and the options, or a problem."""
    unknown = sorted(set(form) - {"file", "mapping"} - set(ImportOptions.model_fields))
    missing = [name for name in ("file", "mapping") if name not in form]
    repeated = sorted({name for name, _ in form.multi_items() if len(form.getlist(name)) > 1})
    errors = [{"field": n, "message": "is required"} for n in missing]
    errors += [{"field": n, "message": "is not an import option"} for n in unknown]
    errors += [{"field": n, "message": "is given more than once"} for n in repeated]
    if errors:
        raise Problem(422, f"The form is not an import: see errors; {HOW}.", errors=errors)
    upload = form["file"]
    if not isinstance(upload, UploadFile):
        raise _field("file", "must be a file part (curl: -F file=@people.csv)")
    if upload.size is not None and upload.size > max_bytes:
        raise too_large(upload.size, max_bytes)
    mapping = await _mapping(form["mapping"])
    fields = {k: v for k, v in form.items() if k not in ("file", "mapping")}
    if any(not isinstance(v, str) for v in fields.values()):
        raise _field("options", "import options are text fields, not files")
    options = options_of({k: v for k, v in fields.items() if v != ""})
    data = await upload.read()
    if len(data) > max_bytes:
        raise too_large(len(data), max_bytes)
    return Upload(upload_name(form), data, mapping, options)


async def _mapping(part: str | UploadFile) -> Any:
    """The mapping from a text field or a file part, as JSON."""
    raw = part if isinstance(part, str) else await part.read(MAX_FIELD + 1)
    if len(raw) > MAX_FIELD:
        raise _field("mapping", f"is larger than {MAX_FIELD} bytes")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400,
            f"The mapping is not valid JSON ({exc}).",
            errors=[{"field": "mapping", "message": "not valid JSON"}],
        ) from None


def _field(name: str, message: str) -> Problem:
    return Problem(422, f"{name} {message}.", errors=[{"field": name, "message": message}])
