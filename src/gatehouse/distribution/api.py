"""Distribution routes: /bundles/{tenant}, /v1/distribution/config and keys, data snapshots."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.connections.service import get_connection
from gatehouse.distribution import keys, service
from gatehouse.distribution.document import parse_etag
from gatehouse.distribution.models import SigningKey
from gatehouse.distribution.schemas import (
    DocumentConfigOut,
    DocumentSettings,
    KeyAlgorithm,
    SigningKeyCreate,
    SigningKeyOut,
    SnapshotOut,
)
from gatehouse.distribution.snapshot import contribution
from gatehouse.kit.http import problems
from gatehouse.kit.problems import Problem
from gatehouse.services import Services

LONG_POLL = "application/vnd.openpolicyagent.bundles"
GZIP = "application/gzip"
BUNDLE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "A gzipped tar: a full bundle, or a delta bundle (`patch.json`).",
        "content": {GZIP: {}, LONG_POLL: {}},
    },
    304: {"description": "The client's ETag is the current revision (after waiting, if asked)."},
    **problems(404, 422),
}


def preferences(header: str | None, cap: int) -> tuple[float | None, set[str]]:
    """(wait seconds or None, modes) of a Prefer header.

    Preferences are separated by `,` (RFC 7240) or `;` (what OPA sends: `modes=snapshot,delta;
    wait=N`); a part without `=` continues the list of modes before it, so
    `wait=3, modes=snapshot,delta` and `modes=snapshot,delta;wait=3` read alike.
    """
    wait: float | None = None
    modes: set[str] = set()
    last = ""
    for part in (header or "").replace(";", ",").split(","):
        name, sep, value = part.strip().partition("=")
        name, value = name.strip().lower(), value.strip().strip('"').lower()
        if not sep:
            if last == "modes" and name:
                modes.add(name.strip('"'))
            continue
        last = name
        if name == "wait":
            try:
                wait = max(0.0, min(float(value), float(cap)))
            except ValueError:
                wait = None
        elif name == "modes":
            modes = {value} if value else set()
    return wait, modes


def key_out(row: SigningKey) -> SigningKeyOut:
    """A signing key as the API shows it: never its private half."""
    return SigningKeyOut(
        key_id=row.id,
        algorithm=KeyAlgorithm(row.algorithm),
        scope=row.scope,
        status="active" if row.status == "active" else "retired",
        public_key=row.public_pem,
        created_by=row.created_by,
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


def build_router(svc: Services) -> APIRouter:
    """Routes of policy data distribution."""
    router = APIRouter(tags=["distribution"])
    hub = svc.distribution
    Reader = Annotated[Principal, Depends(authenticator(svc, "bundles:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "bundles:write"))]

    async def config_out(tenant: str) -> DocumentConfigOut:
        current = await hub.current(tenant)
        async with svc.read() as session:
            row = await service.config_row(session, tenant)
            fragments = await service.fragment_count(session, tenant)
        return DocumentConfigOut(
            config=DocumentSettings.model_validate(row.config) if row else DocumentSettings(),
            version=row.version if row else 0,
            revision=current.revision,
            content_hash=current.content_hash,
            fragments=fragments,
            updated_at=row.updated_at if row else None,
        )

    @router.get(
        "/bundles/{tenant}",
        summary="Download the tenant's OPA bundle",
        responses=BUNDLE_RESPONSES,
        response_class=Response,
    )
    async def get_bundle(
        tenant: Annotated[str, Path(max_length=63, description="The tenant's id.")],
        who: Reader,
        if_none_match: Annotated[str | None, Header(max_length=200)] = None,
        prefer: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Response:
        """OPA's bundle service API: `ETag`/`If-None-Match` (304), long polling with
        `Prefer: wait=N`, delta bundles for `Prefer: modes=...,delta` clients that are recent
        enough, signed with the tenant's active key."""
        if who.tenant_id != tenant:
            raise Problem(404, "No bundle here for this token.")
        wait, modes = preferences(prefer, svc.settings.distribution_max_wait_seconds)
        media = LONG_POLL if wait is not None else GZIP
        current = await hub.current(tenant)
        client = parse_etag(if_none_match)
        if client == (current.revision, current.content_hash[:16]):
            if wait:
                current = await hub.wait_change(tenant, current, wait)
            if client == (current.revision, current.content_hash[:16]):
                return Response(
                    status_code=304, headers={"ETag": current.etag, "Content-Type": media}
                )
        since = None
        if client is not None and await hub.known_revision(tenant, *client):
            since = client[0]
        built = await hub.bundle(tenant, since, "delta" in modes)
        return Response(
            built.body,
            media_type=media,
            headers={"ETag": built.etag, "Cache-Control": "no-cache"},
        )

    @router.get("/v1/distribution/config", summary="Show the data document's configuration")
    async def get_config(who: Reader) -> DocumentConfigOut:
        """The document's key, root, streams, fields and sensitivity choices, and its current
        revision."""
        return await config_out(who.tenant_id)

    @router.put(
        "/v1/distribution/config",
        summary="Change the data document's configuration",
        responses=problems(422),
    )
    async def put_config(
        body: DocumentSettings, request: Request, who: Writer
    ) -> DocumentConfigOut:
        """Change the settings the body names (the others keep their values); the document is
        rebuilt at once under a new revision (clients get a full bundle next)."""
        tenant = who.tenant_id
        async with svc.write(request, who, "distribution.config", "tenant", tenant) as (s, actor):
            await service.put_settings(s, actor, body)
        await hub.catch_up(tenant)
        return await config_out(tenant)

    @router.get("/v1/distribution/keys", summary="List bundle signing keys")
    async def list_keys(who: Reader) -> list[SigningKeyOut]:
        """The tenant's signing keys, newest first: public halves, for OPA's `keys` config."""
        async with svc.read() as session:
            rows = await keys.listing(session, who.tenant_id)
        return [key_out(r) for r in rows]

    @router.post(
        "/v1/distribution/keys",
        status_code=201,
        summary="Create a bundle signing key",
        responses=problems(409, 422),
    )
    async def create_key(body: SigningKeyCreate, request: Request, who: Writer) -> SigningKeyOut:
        """Generate a key pair (RS256 or ES256); bundles are signed with it from the next
        revision on, and the previous active key retires."""
        target = body.key_id or ""
        async with svc.write(request, who, "signing_key.create", "signing_key", target) as (
            s,
            actor,
        ):
            row = await keys.create(s, svc.keys, actor, body)
            out = key_out(row)
        await hub.catch_up(who.tenant_id)
        return out

    @router.post(
        "/v1/distribution/keys/rotate",
        status_code=201,
        summary="Rotate the bundle signing key",
        responses=problems(409),
    )
    async def rotate_key(request: Request, who: Writer) -> SigningKeyOut:
        """Replace the active key with a new one of the same algorithm and scope."""
        async with svc.write(request, who, "signing_key.rotate", "signing_key", "") as (s, actor):
            row = await keys.rotate(s, svc.keys, actor)
            out = key_out(row)
        await hub.catch_up(who.tenant_id)
        return out

    @router.delete(
        "/v1/distribution/keys/{key_id}",
        status_code=204,
        summary="Delete a retired signing key",
        responses=problems(404, 409),
    )
    async def delete_key(
        key_id: Annotated[str, Path(max_length=64)], request: Request, who: Writer
    ) -> None:
        """Destroy a retired key; the active key cannot be deleted (rotate first)."""
        async with svc.write(request, who, "signing_key.delete", "signing_key", key_id) as (
            s,
            actor,
        ):
            await keys.retire(s, actor, key_id)

    @router.get(
        "/pip/connections/{connection_id}/data-snapshot",
        summary="Show what a connection contributes to the data document",
        responses=problems(404),
    )
    async def data_snapshot(
        connection_id: Annotated[str, Path(max_length=36)],
        who: Reader,
        limit: Annotated[int, Query(ge=1, le=10_000, description="Records per kind.")] = 1000,
    ) -> SnapshotOut:
        """The users (with only the fields this connection set), groups and resources it
        stated, as they appear in the document (after sensitivity rules)."""
        current = await hub.current(who.tenant_id)
        async with svc.read() as session:
            await get_connection(session, who.tenant_id, connection_id)
            found = await contribution(session, who.tenant_id, connection_id, limit)
        return SnapshotOut(connection_id=connection_id, revision=current.revision, **found)

    return router
