"""`gatehouse webhook add|list|test|deliveries`: manage and try outbound webhooks."""

from __future__ import annotations

from typing import Annotated

import typer

from gatehouse.cli.common import cli_actor, console, database, run, settings, table
from gatehouse.secrets.keyring import load_keyring
from gatehouse.webhooks import queue, service
from gatehouse.webhooks.schemas import EndpointIn
from gatehouse.webhooks.worker import WebhookWorker

webhook_app = typer.Typer(help="Outbound webhooks.", no_args_is_help=True)
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant.")]


@webhook_app.command("add")
def add(
    tenant: Tenant,
    url: Annotated[str, typer.Option("--url", help="Where to POST events.")],
    event_type: Annotated[
        list[str] | None, typer.Option("--event-type", help="A type or wildcard; repeatable.")
    ] = None,
    description: Annotated[str, typer.Option(help="What the endpoint is for.")] = "",
) -> None:
    """Create an endpoint and print its signing secret (shown this once)."""
    cfg = settings()
    body = EndpointIn(url=url, event_types=event_type or [], description=description)

    async def go() -> tuple[str, str]:
        async with database(cfg) as db, db.transaction() as session:
            ring = await load_keyring(session, cfg)
            row, secret = await service.create(session, ring, cfg, cli_actor(tenant), body)
            return row.id, secret

    endpoint_id, secret = run(go())
    console.print(f"endpoint {endpoint_id}")
    console.print(f"secret   {secret}  (shown once)", markup=False)


@webhook_app.command("list")
def listing(tenant: Tenant) -> None:
    """List the tenant's endpoints."""
    cfg = settings()

    async def go() -> list[tuple[str, str, str, str]]:
        async with database(cfg) as db, db.transaction(write=False) as session:
            rows = await service.listing(session, tenant, None, 500)
            return [
                (r.id, r.url, ",".join(r.event_types) or "*", "yes" if r.enabled else "no")
                for r in rows
            ]

    console.print(table("id", "url", "event types", "enabled", rows=run(go())))


@webhook_app.command("test")
def test(tenant: Tenant, endpoint_id: Annotated[str, typer.Argument()]) -> None:
    """Send a `webhook.test` message now and show how the endpoint answered."""
    cfg = settings()

    async def go() -> tuple[bool, str]:
        async with database(cfg) as db:
            async with db.transaction() as session:
                ring = await load_keyring(session, cfg)
            worker = WebhookWorker(db, cfg, lambda: ring)
            try:
                _, outcome = await worker.send_test(cli_actor(tenant), endpoint_id)
            finally:
                await worker.close()
        if outcome is None:
            return False, "not sent: the endpoint is disabled"
        state = "delivered" if outcome.succeeded else "failed"
        detail = f" ({outcome.error})" if outcome.error else ""
        line = f"{state}: status {outcome.status}, {outcome.latency_ms:.0f} ms{detail}"
        return outcome.succeeded, line

    delivered, line = run(go())
    console.print(line, markup=False)
    if not delivered:
        raise typer.Exit(1)  # like `connect test`: scripts can tell a failed delivery


@webhook_app.command("deliveries")
def deliveries(
    tenant: Tenant,
    endpoint_id: Annotated[str, typer.Argument()],
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Show an endpoint's delivery attempts and success rate."""
    cfg = settings()

    async def go() -> tuple[list[tuple[str, str, str, str, str, str]], int, int]:
        async with database(cfg) as db, db.transaction(write=False) as session:
            await service.find(session, tenant, endpoint_id)
            rows = await queue.attempts_page(session, tenant, endpoint_id, None, limit)
            total, good = await queue.success(session, tenant, endpoint_id)
            shown = [
                (
                    r.created_at.isoformat(timespec="seconds"),
                    r.event_type,
                    str(r.attempt),
                    str(r.response_status or "-"),
                    f"{r.latency_ms:.0f}",
                    r.error or "",
                )
                for r in rows[:limit]
            ]
            return shown, total, good

    shown, total, good = run(go())
    console.print(table("at", "event", "attempt", "status", "ms", "error", rows=shown, keep=()))
    rate = f"{good / total:.1%}" if total else "-"
    console.print(f"{total} attempts, {good} succeeded ({rate})")
