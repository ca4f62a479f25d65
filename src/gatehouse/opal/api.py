"""OPAL routes: data documents for OPAL clients, their reports, settings, publishing, status."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from gatehouse.audit import service as audit
from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.auth.scopes import grants
from gatehouse.connections.service import get_connection
from gatehouse.distribution import service as distribution
from gatehouse.distribution.document import parse_etag
from gatehouse.kit.http import problems
from gatehouse.kit.problems import Problem
from gatehouse.opal import queue, service, wire
from gatehouse.opal.documents import Served
from gatehouse.opal.schemas import (
    DataUpdateReport,
    OpalConfigOut,
    OpalSettingsIn,
    OpalSettingsOut,
    OpalStatusOut,
    PublishOut,
    ReportReceived,
)
from gatehouse.opal.status import publish_out, status_of, store_report
from gatehouse.services import Services

Tenant = Annotated[str, Path(max_length=63, description="The tenant's id.")]
ConnectionId = Annotated[str, Path(max_length=36)]
Recent = Annotated[int, Query(ge=1, le=500, description="Publishes and reports to show.")]
NOTES = [
    "Replace each <...> placeholder with the real value; Gatehouse never shows secrets.",
    "The fetch token needs scope opal:read (or bundles:read) for this tenant.",
    "Entries fetch the complete document: OPAL clients replace dst_path with it (PUT).",
]


def home(request: Request) -> str:
    """Gatehouse's URL as this request reached it (where `fetch_base_url` is not set)."""
    return str(request.base_url).rstrip("/")


def build_router(svc: Services) -> APIRouter:
    """Routes under /opal and /pip/opal, and the per-connection OPAL routes."""
    router = APIRouter(tags=["OPAL"])
    documents = svc.opal_documents
    Anyone = Annotated[Principal, Depends(authenticator(svc, None))]
    Reader = Annotated[Principal, Depends(authenticator(svc, "opal:read"))]
    Writer = Annotated[Principal, Depends(authenticator(svc, "opal:write"))]

    def fetcher(who: Principal, tenant: str) -> None:
        if who.tenant_id != tenant:
            raise Problem(404, "No data here for this token.")
        if not (grants(who.scopes, "opal:read") or grants(who.scopes, "bundles:read")):
            raise Problem(
                403, "This token lacks the scope 'opal:read'.", required_scope="opal:read"
            )

    def served(doc: Served, if_none_match: str | None) -> Response:
        headers = {"ETag": doc.etag, "Cache-Control": "no-cache"}
        client = parse_etag(if_none_match)
        if client is not None and doc.etag == f'"{client[0]}-{client[1]}"':
            return Response(status_code=304, headers=headers)
        return Response(doc.body, media_type="application/json", headers=headers)

    @router.get(
        "/opal/pip-data/{tenant}",
        summary="Fetch the tenant's complete data document (OPAL clients)",
        responses={304: {"description": "Unchanged since the ETag sent."}, **problems(404, 422)},
        response_class=Response,
    )
    async def pip_data(
        tenant: Tenant,
        who: Anyone,
        if_none_match: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Response:
        """The complete, current document below its root (what bundles carry), for OPAL's HTTP
        fetcher; `ETag`/`If-None-Match` answer 304 when unchanged."""
        fetcher(who, tenant)
        return served(await documents.whole(tenant), if_none_match)

    @router.get(
        "/opal/pip-data/{tenant}/{path:path}",
        summary="Fetch part of the tenant's data document (OPAL clients)",
        responses={304: {"description": "Unchanged since the ETag sent."}, **problems(404, 422)},
        response_class=Response,
    )
    async def pip_data_part(
        tenant: Tenant,
        path: Annotated[str, Path(max_length=1000, description="e.g. `users` or `groups/x`.")],
        who: Anyone,
        if_none_match: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Response:
        """The sub-document at a slash-separated path below the document's root."""
        fetcher(who, tenant)
        return served(await documents.part(tenant, path), if_none_match)

    @router.post(
        "/opal/reports/{tenant}",
        summary="Receive an OPAL client's data update report",
        responses=problems(404, 413, 422),
    )
    async def receive_report(
        tenant: Tenant, body: DataUpdateReport, request: Request, who: Reader
    ) -> ReportReceived:
        """OPAL clients post here (a callback of each update, or
        `OPAL_DEFAULT_UPDATE_CALLBACKS`) after fetching and saving an update's entries."""
        if who.tenant_id != tenant:
            raise Problem(404, "No reports are taken here for this token.")
        size = len(await request.body())
        if size > svc.settings.opal_report_max_bytes:
            limit = svc.settings.opal_report_max_bytes
            raise Problem(413, f"The report is {size} bytes, over the limit of {limit}.")
        target = body.update_id or ""
        async with svc.read() as session:
            settings = service.current(await service.settings_row(session, tenant))
        entries = [(r.entry.url, r.entry.topics) for r in body.reports]
        errors = wire.foreign(entries, settings, tenant, home(request))
        if errors:
            refused = Problem(
                422,
                "The report is about an update this tenant did not publish (its entries name "
                "another document or topic); nothing was recorded.",
                errors=errors,
            )
            await svc.audit_problem(request, who, "opal.report", "opal_update", target, refused)
            raise refused
        async with svc.write(request, who, "opal.report", "opal_update", target) as (s, actor):
            row = store_report(s, actor, body, request.headers.get("user-agent", ""))
            after = {"update_id": body.update_id, "succeeded": row.succeeded}
            await audit.record(s, actor, "opal.report", "opal_update", target, after=after)
        return ReportReceived(stored=True, succeeded=row.succeeded)

    @router.get("/pip/opal/settings", summary="Show the OPAL publishing settings")
    async def get_settings(who: Reader) -> OpalSettingsOut:
        """Where updates go and how entries look; tokens only say whether they are set."""
        async with svc.read() as session:
            return service.settings_out(await service.settings_row(session, who.tenant_id))

    @router.put(
        "/pip/opal/settings",
        summary="Change the OPAL publishing settings",
        responses=problems(422),
    )
    async def put_settings(body: OpalSettingsIn, request: Request, who: Writer) -> OpalSettingsOut:
        """Change the settings the body names (the others keep their values); tokens are sealed
        (`null` keeps the stored one, `""` clears it). Every change is audited."""
        tenant = who.tenant_id
        async with svc.write(request, who, "opal.settings", "tenant", tenant) as (s, actor):
            row = await service.put_settings(s, svc.keys, actor, body)
            out = service.settings_out(row)
        svc.opal.wake.set()
        return out

    async def publish(
        request: Request, who: Principal, connection_id: str | None, reason: str
    ) -> PublishOut:
        tenant = who.tenant_id
        current = await svc.distribution.current(tenant)
        target = connection_id or tenant
        kind = "connection" if connection_id else "tenant"
        async with svc.write(request, who, "opal.publish", kind, target) as (s, actor):
            if connection_id is not None:
                await get_connection(s, tenant, connection_id)
            row = await service.settings_row(s, tenant)
            if row is None or not row.config.get("enabled"):
                raise Problem(409, "OPAL publishing is not enabled: PUT /pip/opal/settings first.")
            trigger = "manual"
            published = await queue.enqueue(
                s, tenant, current.revision, trigger, reason, connection_id=connection_id
            )
            out = publish_out(published)
            after = {"publish_id": out.id, "revision": out.revision, "reason": reason}
            await audit.record(s, actor, "opal.publish", kind, target, after=after)
        svc.opal.wake.set()
        return out

    @router.post(
        "/pip/opal/publish",
        status_code=202,
        summary="Publish the tenant's document to OPAL now",
        responses=problems(409),
    )
    async def publish_tenant(request: Request, who: Writer) -> PublishOut:
        """Queue a DataUpdate pointing OPAL clients at the complete document; it is sent at
        once and retried until the OPAL server takes it."""
        return await publish(request, who, None, "published on request")

    @router.post(
        "/pip/connections/{connection_id}/publish-to-opal",
        status_code=202,
        summary="Publish to OPAL after a connection's change",
        responses=problems(404, 409),
    )
    async def publish_connection(
        connection_id: ConnectionId, request: Request, who: Writer
    ) -> PublishOut:
        """Queue a DataUpdate for the complete document (OPAL replaces what it fetches, and
        a connection's part alone would drop every other source's facts); the publish is
        recorded against the connection for its status."""
        return await publish(request, who, connection_id, f"connection {connection_id}")

    @router.get("/pip/opal/status", summary="Show what was published to OPAL")
    async def tenant_status(who: Reader, limit: Recent = 20) -> OpalStatusOut:
        """Recent publishes (pending, retried, delivered, failed), attempts, last errors, and
        what OPAL clients reported back."""
        current = await svc.distribution.current(who.tenant_id)
        async with svc.read() as session:
            return await status_of(session, who.tenant_id, current.revision, None, limit)

    @router.get(
        "/pip/connections/{connection_id}/opal-status",
        summary="Show what was published to OPAL for a connection",
        responses=problems(404),
    )
    async def connection_status(
        connection_id: ConnectionId, who: Reader, limit: Recent = 20
    ) -> OpalStatusOut:
        """The connection's publishes and the client reports about them, with tenant totals."""
        current = await svc.distribution.current(who.tenant_id)
        async with svc.read() as session:
            await get_connection(session, who.tenant_id, connection_id)
            return await status_of(session, who.tenant_id, current.revision, connection_id, limit)

    async def config_for(request: Request, tenant: str) -> OpalConfigOut:
        async with svc.read() as session:
            row = await service.settings_row(session, tenant)
            root = tuple((await distribution.settings_of(session, tenant)).root.split("/"))
        settings = service.current(row)
        server, client, sources = wire.client_config(settings, tenant, root, home(request))
        return OpalConfigOut(
            server_env=server, client_env=client, data_sources=sources, notes=NOTES
        )

    @router.get("/pip/opal/config", summary="Show OPAL server and client configuration")
    async def opal_config(request: Request, who: Reader) -> OpalConfigOut:
        """Environment for the OPAL server (`OPAL_DATA_CONFIG_SOURCES`) and clients (topics,
        data updater, report callbacks), with placeholders where secrets go."""
        return await config_for(request, who.tenant_id)

    @router.get(
        "/pip/connections/{connection_id}/opal-config",
        summary="Show OPAL configuration for a connection",
        responses=problems(404),
    )
    async def connection_config(
        connection_id: ConnectionId, request: Request, who: Reader
    ) -> OpalConfigOut:
        """The tenant's OPAL configuration: a connection's facts reach OPAL inside the
        tenant's complete document, so every connection shares it."""
        async with svc.read() as session:
            await get_connection(session, who.tenant_id, connection_id)
        return await config_for(request, who.tenant_id)

    return router
