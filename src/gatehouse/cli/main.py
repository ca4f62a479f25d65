"""The `gatehouse` command: each subcommand's module is imported only when that command runs."""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
from typer import _click as click  # the click Typer vendors: the types its groups use
from typer.core import TyperCommand, TyperGroup


class Entry(NamedTuple):
    """Where a subcommand lives, and its one-line help for `gatehouse --help`."""

    module: str
    attribute: str
    help: str


COMMANDS: dict[str, Entry] = {
    "serve": Entry(
        "gatehouse.cli.serve", "serve", "Apply migrations, open the key ring, and serve the API."
    ),
    "worker": Entry(
        "gatehouse.cli.sync",
        "worker",
        "Run background work (syncs, webhook deliveries) until stopped.",
    ),
    "db": Entry("gatehouse.cli.ops", "db_app", "Database schema migrations."),
    "config": Entry("gatehouse.cli.ops", "config_app", "Effective configuration."),
    "tenant": Entry("gatehouse.cli.admin", "tenant_app", "Create and list tenants."),
    "token": Entry("gatehouse.cli.admin", "token_app", "Create, list and revoke API tokens."),
    "audit": Entry("gatehouse.cli.ops", "audit_app", "Verify and export the audit log."),
    "keys": Entry("gatehouse.cli.ops", "keys_app", "Master key and data-key ring."),
    "demo": Entry("gatehouse.cli.demo", "demo_app", "Synthetic data for demos and load tests."),
    "connect": Entry(
        "gatehouse.cli.connect", "connect_app", "Configure and check data-source connections."
    ),
    "sync": Entry("gatehouse.cli.sync", "sync_app", "Run syncs in the foreground."),
    "import": Entry(
        "gatehouse.cli.imports", "import_file", "Import a CSV, JSON, JSON Lines or Excel file."
    ),
    "bundle": Entry(
        "gatehouse.cli.bundle", "bundle_app", "OPA bundles of a tenant's data document."
    ),
    "decision-log": Entry("gatehouse.cli.decisionlog", "decision_log_app", "The decision log."),
    "opal": Entry("gatehouse.cli.opal", "opal_app", "Publishing to OPAL."),
    "webhook": Entry("gatehouse.cli.webhook", "webhook_app", "Outbound webhooks."),
}


def load(name: str) -> click.Command:
    """The click command for `name`, importing its module now."""
    entry = COMMANDS[name]
    target: Any = getattr(importlib.import_module(entry.module), entry.attribute)
    if isinstance(target, typer.Typer):
        command: click.Command = typer.main.get_group(target)  # a group even with one command
    else:
        single = typer.Typer(pretty_exceptions_show_locals=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """Lists subcommands from COMMANDS and imports one only when it is run (or its help asked)."""

    listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand, in the order of COMMANDS."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command; a light stand-in with its help while the top-level help is written."""
        if cmd_name not in COMMANDS:
            return None
        if self.listing:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)
        return load(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The top-level help, without importing any subcommand."""
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    cls=LazyGroup,
    help="Gatehouse: the facts authorization runs on.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main() -> None:
    """Gatehouse: the facts authorization runs on."""
