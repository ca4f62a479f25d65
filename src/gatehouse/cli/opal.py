"""`gatehouse opal publish`: tell a tenant's OPAL server about its current document now."""

from __future__ import annotations

from typing import Annotated

import typer

from gatehouse.audit import service as audit
from gatehouse.cli.common import cli_actor, console, database, fail, run, settings
from gatehouse.distribution.hub import Distribution
from gatehouse.opal import queue, service
from gatehouse.opal.documents import OpalDocuments
from gatehouse.opal.models import OpalPublish
from gatehouse.opal.publisher import OpalPublisher
from gatehouse.secrets.keyring import load_keyring

opal_app = typer.Typer(help="Publishing to OPAL.", no_args_is_help=True)


@opal_app.command("publish")
def publish(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant whose document to publish.")],
    queue_only: Annotated[
        bool, typer.Option(help="Only queue it; a running Gatehouse sends it.")
    ] = False,
) -> None:
    """Queue a DataUpdate for the tenant's complete document and send it (one attempt;
    a failed one stays queued and Gatehouse retries it)."""
    cfg = settings()

    async def go() -> OpalPublish:
        async with database(cfg) as db:
            async with db.transaction() as session:
                ring = await load_keyring(session, cfg)
            hub = Distribution(db, cfg, lambda: ring)
            current = await hub.catch_up(tenant)
            async with db.transaction() as session:
                row = await service.settings_row(session, tenant)
                if row is None or not row.config.get("enabled"):
                    fail(f"OPAL publishing is not enabled for tenant {tenant!r}")
                published = await queue.enqueue(
                    session, tenant, current.revision, "cli", "published from the CLI"
                )
                after = {"publish_id": published.id, "revision": current.revision}
                await audit.record(
                    session, cli_actor(tenant), "opal.publish", "tenant", tenant, after=after
                )
                publish_id = published.id
            if not queue_only:
                documents = OpalDocuments(hub, cfg.opal_max_document_bytes)
                publisher = OpalPublisher(db, cfg, lambda: ring, hub, documents)
                while (claimed := await queue.claim(db, publisher.owner, 30.0)) is not None:
                    await publisher.deliver(claimed)
            async with db.transaction(write=False) as session:
                rows = await queue.recent(session, tenant, None, 50)
            return next(r for r in rows if r.id == publish_id)

    row = run(go())
    if row.status == "delivered":
        console.print(f"[green]delivered[/] update {row.id} (revision {row.revision})")
    elif row.status == "failed":
        fail(f"update {row.id} failed: {row.last_error}")
    else:
        detail = f": {row.last_error}" if row.last_error else ""
        console.print(f"[yellow]{row.status}[/] update {row.id}{detail}")
