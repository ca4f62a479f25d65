"""`gatehouse demo generate`: synthetic organisations for demos, tests and load tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from gatehouse.cli.common import cli_actor, console, database, fail, run, settings
from gatehouse.identity.bulk import LoadReport, load_org, total_rows
from gatehouse.identity.export import FORMATS, write_files
from gatehouse.identity.synthetic import generate
from gatehouse.tenants import service as tenants

demo_app = typer.Typer(help="Synthetic data for demos and load tests.", no_args_is_help=True)


@demo_app.command("generate")
def demo_generate(
    users: Annotated[int, typer.Option(min=1, max=2_000_000, help="People to generate.")] = 100,
    groups: Annotated[int, typer.Option(min=0, max=200_000, help="Groups to generate.")] = 20,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 1,
    tenant: Annotated[str | None, typer.Option(help="Load into this tenant's store.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write source files here instead.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or sql (with --out).")] = "csv",
) -> None:
    """Generate people, an org hierarchy, nested groups and overlapping source systems."""
    if bool(tenant) == bool(out):
        fail("give exactly one of --tenant T (load into the store) or --out DIR (write files)")
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    org = generate(users, groups, seed)
    if out is not None:
        for path in write_files(org, out, fmt):
            console.print(f"wrote {path}")
        return
    tenant_id = str(tenant)

    async def go() -> LoadReport:
        async with database(settings()) as db, db.transaction() as session:
            await tenants.get_tenant(session, tenant_id)
            with Progress(console=console) as progress:
                task = progress.add_task(f"loading into {tenant_id}", total=total_rows(org))
                return await load_org(
                    session,
                    cli_actor(tenant_id),
                    org,
                    source="synthetic-hr",
                    tick=lambda n: progress.advance(task, n),
                )

    report = run(go())
    console.print(
        f"loaded {report.identities} identities, {report.groups} groups and "
        f"{report.memberships} memberships into {tenant_id}"
    )
