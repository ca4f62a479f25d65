"""Tenant and token administration from the command line."""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from gatehouse.auth import service as tokens
from gatehouse.auth.schemas import TokenCreate, TokenOut
from gatehouse.cli.common import (
    announce_access_change,
    cli_actor,
    console,
    database,
    fail,
    run,
    settings,
    table,
)
from gatehouse.config import Tier
from gatehouse.tenants import service as tenants
from gatehouse.tenants.models import PLATFORM
from gatehouse.tenants.schemas import TenantCreate, TenantOut

tenant_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
DURATION = re.compile(r"^(\d+)([dwy])$")


def days(text: str) -> int:
    """Parse `30d`, `4w` or `1y` into days."""
    match = DURATION.match(text.strip())
    if not match:
        fail(f"--expires-in {text!r}: use a number and d, w or y, e.g. 30d")
    return int(match.group(1)) * {"d": 1, "w": 7, "y": 365}[match.group(2)]


@tenant_app.command("create")
def tenant_create(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="Slug, e.g. acme.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the id).")] = None,
    tier: Annotated[Tier, typer.Option(help="Rate-limit tier.")] = Tier.free,
) -> None:
    """Create a tenant."""
    try:
        data = TenantCreate(id=tenant_id, name=name or tenant_id, tier=tier)
    except ValueError as exc:
        fail(f"invalid tenant: {exc}")

    async def go() -> TenantOut:
        async with database(settings()) as db, db.transaction() as session:
            tenant = await tenants.create_tenant(session, cli_actor(PLATFORM), data)
            return TenantOut.model_validate(tenant)

    out = run(go())
    console.print(f"created tenant [bold]{out.id}[/] ({out.tier})")


@tenant_app.command("list")
def tenant_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List tenants."""

    async def go() -> list[TenantOut]:
        async with database(settings()) as db, db.transaction(write=False) as session:
            found: list[TenantOut] = []
            after = None
            while True:
                rows = await tenants.list_tenants(session, after, 500)
                found += [TenantOut.model_validate(t) for t in rows[:500]]
                if len(rows) <= 500:
                    return found
                after = found[-1].id

    rows = run(go())
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    shown = [
        (t.id, t.name, t.tier, t.status, t.created_at.isoformat(timespec="seconds")) for t in rows
    ]
    console.print(table("id", "name", "tier", "status", "created", rows=shown))


@token_app.command("create")
def token_create(
    scope: Annotated[list[str], typer.Option("--scope", "-s", help="Repeat for several.")],
    tenant: Annotated[str | None, typer.Option(help="The tenant the token acts for.")] = None,
    platform: Annotated[bool, typer.Option(help="A platform token (tenant admin).")] = False,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires_in: Annotated[str | None, typer.Option(help="e.g. 30d, 4w, 1y.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a token and print its secret once."""
    if bool(tenant) == platform:
        fail("give exactly one of --tenant T or --platform")
    tenant_id = PLATFORM if platform else str(tenant)
    try:
        data = TokenCreate(
            name=name, scopes=scope, expires_in_days=days(expires_in) if expires_in else None
        )
    except ValueError as exc:
        fail(f"invalid token: {exc}")

    async def go() -> tuple[TokenOut, str]:
        cfg = settings()
        async with database(cfg) as db, db.transaction() as session:
            tier = Tier.enterprise
            if not platform:
                tier = Tier((await tenants.get_tenant(session, tenant_id)).tier)
            token, secret = await tokens.create_token(
                session,
                cli_actor(tenant_id),
                tenant_id,
                data,
                granted_by=None,
                default_days=cfg.token_default_expiry_days,
                tier_limit=cfg.tier_limit(tier),
            )
            return TokenOut.model_validate(token), secret

    out, secret = run(go())
    if as_json:
        typer.echo(json.dumps({**out.model_dump(mode="json"), "token": secret}))
        return
    console.print(f"token [bold]{out.id}[/] for {out.tenant_id}: {', '.join(out.scopes)}")
    console.print(f"expires {out.expires_at:%Y-%m-%d}; the secret is shown only now:")
    typer.echo(secret)


@token_app.command("list")
def token_list(
    tenant: Annotated[str, typer.Option(help="Tenant id, or _platform.")],
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a tenant's tokens."""

    async def go() -> list[TokenOut]:
        async with database(settings()) as db, db.transaction(write=False) as session:
            rows = await tokens.list_tokens(session, tenant, None, 500, include_revoked)
            return [TokenOut.model_validate(t) for t in rows]

    rows = run(go())
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    shown = [
        (
            t.id,
            t.name,
            t.prefix,
            " ".join(t.scopes),
            f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never",
            "yes" if t.revoked_at else "",
        )
        for t in rows
    ]
    headers = ("id", "name", "prefix", "scopes", "expires", "last used", "revoked")
    console.print(table(*headers, rows=shown))


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID")],
    tenant: Annotated[str, typer.Option(help="Tenant id, or _platform.")],
) -> None:
    """Revoke a token at once."""

    async def go() -> None:
        cfg = settings()
        async with database(cfg) as db, db.transaction() as session:
            await tokens.revoke_token(session, cli_actor(tenant), tenant, token_id)
        await announce_access_change(cfg)

    run(go())
    console.print(f"revoked {token_id}")
