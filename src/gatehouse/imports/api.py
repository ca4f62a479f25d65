"""POST /pip/import (reference 001's batch import) and the history of imports."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.db.tenancy import TENANT
from gatehouse.imports.form import open_form, read_upload, upload_name
from gatehouse.imports.prepare import prepare
from gatehouse.imports.schemas import ImportOut, form_schema
from gatehouse.imports.service import IMPORTS, run_import
from gatehouse.kit.http import Cursor, Limit, problems
from gatehouse.kit.pagination import Page, decode_cursor, paginate
from gatehouse.kit.problems import Problem, not_found
from gatehouse.services import Services
from gatehouse.sync import runs
from gatehouse.sync.models import SyncRun
from gatehouse.sync.schemas import RunOut
from gatehouse.sync.tasks import run_settings


def build_router(svc: Services) -> APIRouter:
    """Routes under /pip/import."""
    router = APIRouter(prefix="/pip", tags=["import"])
    Importer = Annotated[Principal, Depends(authenticator(svc, "identities:write"))]
    Reader = Annotated[Principal, Depends(authenticator(svc, "identities:read"))]

    @router.post(
        "/import",
        summary="Import a CSV, JSON or Excel file",
        responses=problems(400, 409, 413, 415, 422),
        openapi_extra=form_schema(),
    )
    async def import_file(request: Request, who: Importer) -> ImportOut:
        """Import a file into the identity store through a mapping (one transform per stream
        or sheet). `mode` all_or_nothing (the default) writes everything or nothing;
        best_effort writes the good rows. `duplicates` update (default), skip or fail decides
        what happens to records the store already has. The answer counts what happened per
        kind and lists row-level errors (row, stream, field, reason; never a value)."""
        name = "upload"
        max_bytes = svc.settings.import_max_bytes
        try:
            async with open_form(request) as form:
                name = upload_name(form)
                upload = await read_upload(form, max_bytes)
            prepared = await asyncio.to_thread(
                prepare, upload.name, upload.data, upload.mapping, upload.options, max_bytes
            )
            del upload  # the opened file holds what it needs of the bytes
            actor = svc.actor(request, who)
            return await run_import(svc.db, actor, prepared, run_settings(svc.settings))
        except Problem as exc:
            await svc.audit_problem(request, who, "import", "file", name, exc)
            raise

    @router.get("/import/runs", responses=problems(400), summary="List imports")
    async def import_runs(who: Reader, cursor: Cursor = None, limit: Limit = 50) -> Page[RunOut]:
        """The tenant's imports, newest first, as sync runs: status, counts, error samples."""
        async with svc.read() as session:
            after = decode_cursor(cursor)
            rows = await runs.runs_of(
                session, who.tenant_id, IMPORTS, str(after) if after else None, limit + 1
            )
        return paginate(rows, limit, RunOut.model_validate)

    @router.get("/import/runs/{run_id}", responses=problems(404), summary="Show one import")
    async def import_run(run_id: str, who: Reader) -> RunOut:
        """One import's run."""
        async with svc.read() as session:
            run = await session.get(SyncRun, run_id, execution_options={TENANT: who.tenant_id})
        if run is None or run.tenant_id != who.tenant_id or run.connection_id != IMPORTS:
            raise not_found("import", run_id)
        return RunOut.model_validate(run)

    return router
