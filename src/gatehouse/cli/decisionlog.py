"""`gatehouse decision-log purge`: apply the decision-log retention now."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from gatehouse.cli.common import cli_actor, console, database, run, settings
from gatehouse.fleet.retention import purge
from gatehouse.tenants.models import PLATFORM

decision_log_app = typer.Typer(help="The decision log.", no_args_is_help=True)


@decision_log_app.command("purge")
def purge_command(
    older_than_days: Annotated[
        int | None,
        typer.Option(min=0, help="Age in days; default GATEHOUSE_DECISION_LOG_RETENTION_DAYS."),
    ] = None,
) -> None:
    """Delete decisions older than the retention (the server also does this every hour)."""
    cfg = settings()
    days = cfg.decision_log_retention_days if older_than_days is None else older_than_days
    if older_than_days is None and days == 0:
        console.print("retention is off (GATEHOUSE_DECISION_LOG_RETENTION_DAYS=0): nothing deleted")
        return

    async def go() -> int:
        async with database(cfg) as db:
            return await purge(db, timedelta(days=days), by=cli_actor(PLATFORM).actor)

    console.print(f"deleted [bold]{run(go())}[/] decisions older than {days} days")
