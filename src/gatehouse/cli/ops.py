"""Operator commands: db, config, audit and keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.progress import Progress
from rich.table import Table

from gatehouse.audit import service as audit
from gatehouse.cli.common import cli_actor, console, database, run, settings
from gatehouse.config import SECRET_FIELDS
from gatehouse.db import migrate
from gatehouse.kit.crypto import b64e, new_key
from gatehouse.kit.masking import MASK, mask_url
from gatehouse.secrets import service as secrets
from gatehouse.secrets.keyring import load_keyring
from gatehouse.tenants.models import PLATFORM

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
config_app = typer.Typer(help="Effective configuration.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify and export the audit log.", no_args_is_help=True)
keys_app = typer.Typer(help="Master key and data-key ring.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""

    async def go() -> str | None:
        cfg = settings()
        async with database(cfg, create=True) as db:
            await migrate.upgrade(db.engine, revision, cfg)
            return await migrate.current(db.engine)

    console.print(f"database at revision [bold]{run(go())}[/]")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target, or `base`.")]) -> None:
    """Revert migrations down to REVISION."""

    async def go() -> str | None:
        cfg = settings()
        async with database(cfg, migrated=False) as db:
            await migrate.downgrade(db.engine, revision, cfg)
            return await migrate.current(db.engine)

    console.print(f"database at revision [bold]{run(go()) or 'base'}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the revision the database is at and the newest one available."""

    async def go() -> str | None:
        async with database(settings(), migrated=False) as db:
            return await migrate.current(db.engine)

    console.print(f"current: {run(go()) or 'none'}  head: {migrate.head()}")


@config_app.command("show")
def config_show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the effective settings, secrets masked."""
    cfg = settings()
    values = cfg.model_dump(mode="json")
    values["database_url"] = cfg.effective_database_url
    for name in SECRET_FIELDS:
        if values.get(name):
            values[name] = mask_url(str(values[name])) if "url" in name else MASK
    if as_json:
        typer.echo(json.dumps(values, indent=2))
        return
    table = Table("variable", "value")
    for name, value in values.items():
        table.add_row(f"GATEHOUSE_{name.upper()}", str(value))
    console.print(table)


@audit_app.command("verify")
def audit_verify(
    tenant: Annotated[str | None, typer.Option(help="One tenant's chain (default: all).")] = None,
) -> None:
    """Recompute the hash chains; report the first broken link of each."""

    async def go() -> list[audit.ChainReport]:
        async with database(settings()) as db, db.transaction(write=False) as session:
            names = [tenant] if tenant else await audit.chains(session)
            return [await audit.verify_chain(session, name) for name in names]

    reports = run(go())
    broken = [r for r in reports if not r.ok]
    for r in reports:
        if r.ok:
            console.print(f"[green]ok[/]      {r.tenant_id}: {r.checked} entries")
        else:
            console.print(f"[red]BROKEN[/]  {r.tenant_id}: at seq {r.broken_seq}: {r.reason}")
    if broken:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    tenant: Annotated[str | None, typer.Option(help="One tenant (default: all).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout).")
    ] = None,
) -> None:
    """Write audit entries as JSON lines, chain by chain in order."""

    async def go() -> int:
        written = 0
        out = output.open("wb") if output else sys.stdout.buffer
        try:
            async with database(settings()) as db, db.transaction(write=False) as session:
                names = [tenant] if tenant else await audit.chains(session)
                total = await audit.count(session, tenant)
                with Progress(console=console, disable=output is None) as progress:
                    task = progress.add_task("exporting audit log", total=total)
                    for name in names:
                        async for entry in audit.iter_chain(session, name):
                            out.write(orjson.dumps(audit.entry_doc(entry)) + b"\n")
                            written += 1
                            progress.advance(task)
        finally:
            if output:
                out.close()
        return written

    count = run(go())
    if output:
        console.print(f"wrote {count} entries to {output}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new data key and re-encrypt every secret with it."""

    async def go() -> tuple[int, str]:
        async with database(settings()) as db, db.transaction() as session:
            ring = await load_keyring(session, settings())
            with Progress(console=console) as progress:
                count = await secrets.rotate(session, ring, progress)
            await audit.record(
                session,
                cli_actor(PLATFORM),
                "keys.rotate",
                "key",
                ring.active,
                after={"secrets_reencrypted": count},
            )
            return count, ring.active

    count, active = run(go())
    console.print(f"re-encrypted {count} secrets; active key is now {active}")


@keys_app.command("prune")
def keys_prune() -> None:
    """Destroy retired data keys that no ciphertext uses any more."""

    async def go() -> list[str]:
        async with database(settings()) as db, db.transaction() as session:
            gone = await secrets.prune(session, await load_keyring(session, settings()))
            if gone:
                await audit.record(
                    session, cli_actor(PLATFORM), "keys.prune", "key", ",".join(gone)
                )
            return gone

    gone = run(go())
    console.print(f"destroyed {len(gone)} retired keys" + (f": {', '.join(gone)}" if gone else ""))


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random master key for GATEHOUSE_MASTER_KEY."""
    typer.echo(b64e(new_key()))
