"""`gatehouse import FILE`: the file import of POST /pip/import, from the command line."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.table import Table

from gatehouse.cli.common import (
    cli_actor,
    console,
    counts_table,
    database,
    errors,
    fail,
    run,
    settings,
)
from gatehouse.cli.progress import follow
from gatehouse.imports.prepare import file_name, options_of, prepare
from gatehouse.imports.schemas import ImportOut
from gatehouse.imports.service import run_import
from gatehouse.kit.problems import Problem
from gatehouse.sync.engine import Runner
from gatehouse.sync.tasks import run_settings
from gatehouse.tenants import service as tenants

SHOWN_ERRORS = 20  # a longer report goes to a file


def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The CSV, JSON or Excel file.")
    ],
    tenant: Annotated[str, typer.Option(help="The tenant whose store the records go into.")],
    mapping: Annotated[
        Path,
        typer.Option(
            exists=True,
            dir_okay=False,
            help='JSON: one transform, or {"streams": {"<stream or sheet>": <transform>}}.',
        ),
    ],
    mode: Annotated[
        str, typer.Option(help="all_or_nothing (one transaction) or best_effort.")
    ] = "all_or_nothing",
    duplicates: Annotated[
        str, typer.Option(help="Records the store already has: update, skip or fail.")
    ] = "update",
    source: Annotated[
        str | None, typer.Option(help="Link records under this name (default import:<file>).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Report what would change; write nothing.")] = False,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, json, jsonl or excel (default: detected).")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detected).")] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected).")
    ] = None,
    errors_out: Annotated[
        Path | None,
        typer.Option(
            help=f"Write the error report here (CSV); by default when over {SHOWN_ERRORS}."
        ),
    ] = None,
) -> None:
    """Import a file into a tenant's store; exits 1 when an all-or-nothing import fails."""
    cfg = settings()
    given = {
        "mode": mode,
        "duplicates": duplicates,
        "source": source,
        "dry_run": dry_run,
        "format": fmt,
        "encoding": encoding,
        "delimiter": delimiter,
    }
    try:
        options = options_of({k: v for k, v in given.items() if v is not None})
        size = file.stat().st_size
        if size > cfg.import_max_bytes:
            fail(
                f"{file.name} is {size} bytes; imports take at most {cfg.import_max_bytes} "
                "(GATEHOUSE_IMPORT_MAX_BYTES): split the file, or raise the limit"
            )
        spec = _mapping(mapping)
        with console.status(f"reading {file.name}"):
            prepared = prepare(
                file_name(file.name), file.read_bytes(), spec, options, cfg.import_max_bytes
            )
    except Problem as exc:
        _refused(exc)

    async def go() -> ImportOut:
        async with database(cfg) as db:
            async with db.transaction(write=False) as session:
                await tenants.get_tenant(session, tenant)
            actor, run_with = cli_actor(tenant), run_settings(cfg)
            runners: list[Runner] = []
            work = asyncio.create_task(run_import(db, actor, prepared, run_with, runners.append))
            return await follow(work, lambda: runners[0].tally if runners else None, "importing")

    out = run(go())
    _summary(out)
    _report(out, errors_out or (Path(f"{file.stem}.errors.csv") if _long(out) else None))
    if out.status == "failed":
        raise typer.Exit(1)


def _mapping(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        fail(f"--mapping {path}: not readable JSON ({exc})")


def _refused(problem: Problem) -> NoReturn:
    """A refused import: the detail and every listed problem."""
    for error in problem.extra.get("errors", []):
        errors.print(f"  {error['field']}: {error['message']}", markup=False, highlight=False)
    fail(problem.detail)


def _summary(out: ImportOut) -> None:
    title = f"import of {out.file.name}: {out.status}" + (" (dry run)" if out.dry_run else "")
    console.print(counts_table(title, out.counts))
    if out.error:
        errors.print(out.error, markup=False, highlight=False)
    if out.would_write is not None:
        why = "dry run" if out.dry_run else "all or nothing"
        console.print(f"{why}: nothing written; it would have written:")
        console.print(counts_table(None, out.would_write))


def _long(out: ImportOut) -> bool:
    return out.errors_total > SHOWN_ERRORS


def _report(out: ImportOut, path: Path | None) -> None:
    """The first errors on screen; all of them (up to the report's cap) in a CSV file."""
    if not out.errors:
        return
    table = Table(title=f"{out.errors_total} row error(s)")
    for name in ("stream", "row", "field", "reason"):
        table.add_column(name)
    for error in out.errors[:SHOWN_ERRORS]:
        table.add_row(error.stream, str(error.row or ""), error.field or "", error.reason)
    console.print(table)
    if path is None:
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["stream", "row", "field", "reason"])
        for error in out.errors:
            writer.writerow([error.stream, error.row or "", error.field or "", error.reason])
    listed = len(out.errors)
    more = f" (the first {listed} of {out.errors_total})" if listed < out.errors_total else ""
    console.print(f"wrote the error report to {path}{more}")
