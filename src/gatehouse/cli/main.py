"""The `gatehouse` command."""

from __future__ import annotations

import typer

from gatehouse.cli.admin import tenant_app, token_app
from gatehouse.cli.bundle import bundle_app
from gatehouse.cli.connect import connect_app
from gatehouse.cli.decisionlog import decision_log_app
from gatehouse.cli.demo import demo_app
from gatehouse.cli.imports import import_file
from gatehouse.cli.opal import opal_app
from gatehouse.cli.ops import audit_app, config_app, db_app, keys_app
from gatehouse.cli.serve import serve
from gatehouse.cli.sync import sync_app, worker
from gatehouse.cli.webhook import webhook_app

app = typer.Typer(
    help="Gatehouse: the facts authorization runs on.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command()(serve)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(tenant_app, name="tenant")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(demo_app, name="demo")
app.add_typer(connect_app, name="connect")
app.add_typer(sync_app, name="sync")
app.add_typer(bundle_app, name="bundle")
app.add_typer(decision_log_app, name="decision-log")
app.add_typer(opal_app, name="opal")
app.add_typer(webhook_app, name="webhook")
app.command()(worker)
app.command("import")(import_file)
