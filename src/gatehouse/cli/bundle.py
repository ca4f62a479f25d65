"""`gatehouse bundle build`: an OPA bundle in a file, for OPAs that cannot reach Gatehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gatehouse.audit import service as audit
from gatehouse.cli.common import cli_actor, console, database, fail, run, settings
from gatehouse.distribution.bundle import Built, full_bundle
from gatehouse.distribution.hub import Distribution
from gatehouse.distribution.signing import Signer, algorithm_of, load_private
from gatehouse.secrets.keyring import load_keyring
from gatehouse.tenants.models import Tenant

bundle_app = typer.Typer(help="OPA bundles of a tenant's data document.", no_args_is_help=True)


def _signer(path: Path, key_id: str, scope: str) -> Signer:
    try:
        key = load_private(path.read_text())
    except (OSError, ValueError) as exc:
        fail(f"{path}: not a usable private key ({exc})")
    return Signer(key_id or path.stem, algorithm_of(key), scope, key)


@bundle_app.command("build")
def build(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant whose document to bundle.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the .tar.gz.")],
    sign_key: Annotated[
        Path | None,
        typer.Option(help="PEM private key (RSA or EC P-256); default: the tenant's active key."),
    ] = None,
    key_id: Annotated[str, typer.Option(help="`keyid` with --sign-key (default: file stem).")] = "",
    scope: Annotated[str, typer.Option(help="`scope` claim with --sign-key.")] = "",
    unsigned: Annotated[bool, typer.Option(help="Do not sign, even with an active key.")] = False,
) -> None:
    """Build the tenant's full bundle (signed when it has a key or --sign-key is given)."""
    cfg = settings()
    given = _signer(sign_key, key_id, scope) if sign_key else None

    async def go() -> Built:
        async with database(cfg) as db:
            async with db.transaction() as session:
                ring = await load_keyring(session, cfg)
                if await session.get(Tenant, tenant) is None:
                    fail(f"no tenant {tenant!r}")
            hub = Distribution(db, cfg, lambda: ring)
            columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as progress:
                step = progress.add_task("bringing the data document up to date", total=None)
                await hub.catch_up(tenant)
                progress.update(step, description="loading the document")
                snap = await hub.snapshot(tenant)
                signer = None if unsigned else given or await hub.signer(tenant)
                progress.update(step, description="assembling, signing and compressing")
                data = snap.data_json()
                policies = await hub.policies.policies(tenant)
                built = full_bundle(snap, data, policies, signer, cfg.distribution_gzip_level)
                progress.update(step, description=f"writing {out}")
                out.write_bytes(built.body)
            async with db.transaction() as session:
                after = {"revision": built.revision, "signed": built.signed, "file": str(out)}
                await audit.record(
                    session, cli_actor(tenant), "bundle.export", "tenant", tenant, after=after
                )
            return built

    built = run(go())
    signed = f"signed ({'given key' if given else 'tenant key'})" if built.signed else "unsigned"
    console.print(
        f"[green]wrote[/] {out}: revision {built.revision}, ETag {built.etag}, "
        f"{len(built.body):,} bytes, {signed}"
    )
