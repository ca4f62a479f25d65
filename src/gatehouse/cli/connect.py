"""`gatehouse connect`: add, list, test and discover connections, through the services."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from gatehouse.cli.common import cli_actor, console, database, fail, run, settings, table
from gatehouse.config import Settings
from gatehouse.connections import operations, service
from gatehouse.connections.mapping import Mapping as StreamsMapping
from gatehouse.connections.mapping import stream_doc
from gatehouse.connections.models import Connection
from gatehouse.connections.runner import Checked
from gatehouse.connections.schemas import ConnectionCreate, ConnectionUpdate, Status
from gatehouse.connections.spec import Spec, spec_of
from gatehouse.kit.problems import Problem
from gatehouse.secrets.keyring import load_keyring

connect_app = typer.Typer(
    help="Add, list, test, discover, pause and resume connections.", no_args_is_help=True
)
Tenant = Annotated[str, typer.Option(help="The tenant the connection belongs to.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Ref = Annotated[str, typer.Argument(metavar="CONNECTION", help="Connection id or name.")]


@asynccontextmanager
async def connections(loaded: Settings | None = None) -> AsyncIterator[operations.Connections]:
    """The database and the opened key ring, as connection operations need them (for `loaded`
    settings, or the environment's: loading them sets up a command's logging)."""
    cfg = loaded or settings()
    async with database(cfg) as db:
        async with db.transaction() as session:
            ring = await load_keyring(session, cfg)
        yield operations.Connections(db, ring, cfg)


def parse_pairs(spec: Spec, pairs: list[str]) -> dict[str, Any]:
    """`key=value` options: strings for string fields, JSON for the others."""
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--config {pair!r}: use key=value, e.g. --config host=db.example.com")
        kind = spec.properties.get(key, {}).get("type")
        if kind == "string" or key in spec.secrets:
            config[key] = value
            continue
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    return config


def gather_config(spec: Spec, pairs: list[str], file: Path | None, prompt: bool) -> dict[str, Any]:
    """The configuration from a file and options; missing secrets are asked for, hidden."""
    config: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = orjson.loads(file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            fail(f"--config-file {file}: {exc}")
        if not isinstance(loaded, dict):
            fail(f"--config-file {file}: must hold a JSON object")
        config.update(loaded)
    config.update(parse_pairs(spec, pairs))
    if prompt and sys.stdin.isatty():
        for name in sorted(spec.secrets - set(config)):
            title = spec.properties[name].get("title", name)
            value = typer.prompt(f"{title} (hidden; empty for none)", default="", hide_input=True)
            if value:
                config[name] = value
    return config


async def resolve(ops: operations.Connections, tenant: str, ref: str) -> str:
    """A connection's id from its id or name."""
    async with ops.db.transaction(write=False) as session:
        row = await service.find_by_name(session, tenant, ref)
        if row is None:
            row = await service.get_connection(session, tenant, ref)
        return row.id


def print_check(checked: Checked) -> None:
    """A check's outcome in one or two lines."""
    result = checked.result
    if result.ok:
        console.print(f"[green]ok[/]  {result.message}  ({checked.duration_ms:.0f} ms)")
        return
    failure = result.failure.value if result.failure else "error"
    console.print(f"[red]failed ({failure})[/]  {result.message}", highlight=False)
    if checked.hint:
        console.print(f"      {checked.hint}", highlight=False)


ConfigPairs = Annotated[list[str] | None, typer.Option("--config", "-c", help="key=value; repeat.")]
ConfigFile = Annotated[
    Path | None,
    typer.Option(help="A JSON object with the configuration (the API's `config`); -c wins."),
]
Prompt = Annotated[bool, typer.Option(help="Ask for missing secrets.")]


@connect_app.command("add")
def connect_add(
    type_name: Annotated[str, typer.Argument(metavar="TYPE", help="Connector type.")],
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="Unique name in the tenant.")],
    config: ConfigPairs = None,
    config_file: ConfigFile = None,
    prompt: Prompt = True,
    test: Annotated[
        bool, typer.Option(help="Check the configuration first; save it only when it works.")
    ] = True,
    dry_run: Annotated[
        bool, typer.Option(help="Only check the configuration; save nothing.")
    ] = False,
) -> None:
    """Check a configuration, then save it as a connection (secrets are stored encrypted)."""
    try:
        spec = spec_of(type_name)
    except Problem as exc:
        fail(exc.detail)
    values = gather_config(spec, config or [], config_file, prompt)
    try:
        data = ConnectionCreate(name=name, type=type_name, config=values)
    except ValueError as exc:
        fail(f"invalid connection: {exc}")

    async def go() -> tuple[Connection | None, Checked | None]:
        async with connections() as ops:
            actor = cli_actor(tenant)
            checked = None
            if test or dry_run:
                with console.status("checking the connection"):
                    checked = await operations.test_unsaved(ops, actor, type_name, data.config)
                if dry_run or not checked.result.ok:
                    return None, checked
            async with ops.db.transaction() as session:
                row = await service.create_connection(session, ops.ring, actor, data)
                if checked is not None:
                    row = await service.record_check(session, tenant, row.id, checked)
            return row, checked

    row, checked = run(go())
    if checked is not None:
        print_check(checked)
    if row is not None:
        console.print(f"added connection [bold]{row.name}[/] ({row.type}) id {row.id}")
    elif dry_run:
        console.print("dry run: nothing saved")
    if checked is not None and not checked.result.ok:
        console.print(
            "not saved: fix the configuration and run the command again "
            "(--no-test saves it unchecked)",
            highlight=False,
        )
        raise typer.Exit(1)


@connect_app.command("update")
def connect_update(
    ref: Ref,
    tenant: Tenant,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    config: ConfigPairs = None,
    config_file: ConfigFile = None,
    prompt: Prompt = False,
    test: Annotated[bool, typer.Option(help="Check the connection after the change.")] = True,
) -> None:
    """Change a connection's name or configuration: given keys replace the stored ones.

    Stored secrets are kept unless the destination (host, path, ...) changes; then they must be
    given again.
    """

    async def go() -> tuple[Connection, Checked | None]:
        async with connections() as ops:
            connection_id = await resolve(ops, tenant, ref)
            actor = cli_actor(tenant)
            async with ops.db.transaction(write=False) as session:
                row = await service.get_connection(session, tenant, connection_id)
            spec = spec_of(row.type)
            given = (
                gather_config(spec, config or [], config_file, prompt)
                if (config or config_file or prompt)
                else None
            )
            try:
                change = ConnectionUpdate(
                    name=name, config={**row.config, **given} if given is not None else None
                )
            except ValueError as exc:
                fail(f"invalid change: {exc}")
            async with ops.db.transaction() as session:
                row = await service.update_connection(session, ops.ring, actor, row.id, change)
            if not test:
                return row, None
            with console.status("checking the connection"):
                return await operations.health(ops, actor, row.id)

    row, checked = run(go())
    console.print(f"updated connection [bold]{row.name}[/] ({row.type}) id {row.id}")
    if checked is not None:
        print_check(checked)
        if not checked.result.ok:
            raise typer.Exit(1)


@connect_app.command("delete")
def connect_delete(
    ref: Ref,
    tenant: Tenant,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a connection: its credentials are destroyed and its schedule removed."""
    if not yes and not typer.confirm(f"delete connection {ref} of tenant {tenant}?"):
        raise typer.Exit(1)

    async def go() -> Connection:
        async with connections() as ops:
            connection_id = await resolve(ops, tenant, ref)
            async with ops.db.transaction() as session:
                row = await service.get_connection(session, tenant, connection_id)
                await service.delete_connection(session, cli_actor(tenant), connection_id)
            return row

    row = run(go())
    console.print(f"deleted connection [bold]{row.name}[/] ({row.type}) id {row.id}")


@connect_app.command("list")
def connect_list(tenant: Tenant, as_json: AsJson = False) -> None:
    """List connections with their last check."""

    async def go() -> list[Connection]:
        async with connections() as ops, ops.db.transaction(write=False) as session:
            return list(await service.list_connections(session, tenant, None, 500))

    rows = run(go())[:500]
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "name": r.name,
                        "type": r.type,
                        "status": r.status,
                        "last_check_ok": r.last_check_ok,
                        "last_check_message": r.last_check_message,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    shown = []
    for r in rows:
        health = "never checked"
        if r.last_check_ok is not None:
            health = "[green]ok[/]" if r.last_check_ok else f"[red]{r.last_check_failure}[/]"
        checked = f"{r.last_check_at:%Y-%m-%d %H:%M}" if r.last_check_at else ""
        shown.append((r.id, r.name, r.type, r.status, health, checked))
    console.print(table("id", "name", "type", "status", "health", "checked", rows=shown))


@connect_app.command("test")
def connect_test(ref: Ref, tenant: Tenant) -> None:
    """Check a connection now; exits 1 when it fails."""

    async def go() -> Checked:
        async with connections() as ops:
            connection_id = await resolve(ops, tenant, ref)
            with console.status("checking the connection"):
                _, checked = await operations.health(ops, cli_actor(tenant), connection_id)
            return checked

    checked = run(go())
    print_check(checked)
    if not checked.result.ok:
        raise typer.Exit(1)


@connect_app.command("discover")
def connect_discover(ref: Ref, tenant: Tenant, as_json: AsJson = False) -> None:
    """Show the streams a connection's source offers, with fields and suggestions."""

    async def go() -> list[Any]:
        async with connections() as ops:
            connection_id = await resolve(ops, tenant, ref)
            with console.status("discovering the schema"):
                _, streams = await operations.discover(ops, cli_actor(tenant), connection_id)
            return streams

    streams = run(go())
    if as_json:
        typer.echo(json.dumps([stream_doc(s) for s in streams], indent=2))
        return
    for info in streams:
        title = (
            f"[bold]{info.name}[/]  kind: {info.kind or '?'}  key: "
            f"{', '.join(info.primary_key) or '-'}  cursor: "
            f"{', '.join(info.cursor_candidates) or '-'}"
        )
        fields = Table("field", "type", "nullable", "sensitivity", title=title)
        for f in info.fields:
            kind = f"{f.type} ({f.format})" if f.format else f.type
            fields.add_row(f.name, kind, "yes" if f.nullable else "no", f.sensitivity.value)
        fields.title_justify = "left"
        console.print(fields)


@connect_app.command("map")
def connect_map(
    ref: Ref,
    tenant: Tenant,
    file: Annotated[
        Path,
        typer.Option(
            "--file", "-f", help='The mapping: {"streams": {"<stream>": {"transform": ...}}}.'
        ),
    ],
) -> None:
    """Choose the streams to sync and how (PUT /pip/connections/{id}/mapping)."""
    try:
        mapping = StreamsMapping.model_validate(orjson.loads(file.read_bytes()))
    except (OSError, orjson.JSONDecodeError) as exc:
        fail(f"--file {file}: not readable JSON ({exc})")
    except ValueError as exc:
        fail(f"--file {file}: not a mapping: {exc}")

    async def go() -> Connection:
        async with connections() as ops:
            connection_id = await resolve(ops, tenant, ref)
            return await operations.map_streams(ops, cli_actor(tenant), connection_id, mapping)

    row = run(go())
    names = ", ".join(row.mapping.get("streams", {})) or "none"
    console.print(f"mapped connection [bold]{row.name}[/]: streams {names}", highlight=False)


def _set_status(ref: str, tenant: str, status: Status) -> tuple[Connection, list[str]]:
    async def go() -> tuple[Connection, list[str]]:
        async with connections() as ops:
            connection_id = await resolve(ops, tenant, ref)
            async with ops.db.transaction() as session:
                return await service.change_status(
                    session, cli_actor(tenant), connection_id, status
                )

    return run(go())


@connect_app.command("pause")
def connect_pause(ref: Ref, tenant: Tenant) -> None:
    """Pause a connection: no scheduled or triggered syncs (queued runs are cancelled)."""
    row, cancelled = _set_status(ref, tenant, "paused")
    console.print(f"paused connection [bold]{row.name}[/] ({row.type}) id {row.id}")
    if cancelled:
        console.print(f"cancelled {len(cancelled)} queued run(s): {', '.join(cancelled)}")
    console.print(f"resume it with: gatehouse connect resume {row.name} --tenant {tenant}")


@connect_app.command("resume")
def connect_resume(ref: Ref, tenant: Tenant) -> None:
    """Resume a paused connection: it syncs again from its next scheduled slot."""
    row, _ = _set_status(ref, tenant, "active")
    console.print(f"resumed connection [bold]{row.name}[/] ({row.type}) id {row.id}")
