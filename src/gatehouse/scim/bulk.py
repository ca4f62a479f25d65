"""POST /scim/v2/Bulk (RFC 7644 §3.7): many writes in one request, each its own unit of work.

Like the RFC's bulk, a request is not atomic: each operation runs through the same code as the
single-resource routes and commits or rolls back on its own, so a failed operation leaves
nothing behind and the ones before it stay done.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gatehouse.auth.deps import authenticator, charge
from gatehouse.auth.principal import Principal
from gatehouse.kit.problems import Problem
from gatehouse.scim import bulkids
from gatehouse.scim.errors import document
from gatehouse.scim.http import (
    ScimResponse,
    base_url,
    etag,
    known_fields,
    read_json,
    read_object,
    scim_json,
)
from gatehouse.scim.openapi import BULK_SCHEMA, body, documented
from gatehouse.scim.operations import METHODS, Written, perform
from gatehouse.scim.resources import ResourceKind
from gatehouse.services import Services

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
REQUEST_FIELDS = ("schemas", "failOnErrors", "Operations")
OPERATION_FIELDS = ("method", "bulkId", "version", "path", "data")
log = structlog.get_logger("gatehouse.scim")


@dataclass
class Operation:
    """One operation as the request states it; `error` when it cannot run as stated."""

    method: str | None = None
    bulk_id: str | None = None
    version: str | None = None
    kind: ResourceKind | None = None
    ident: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    needs: set[str] = field(default_factory=set)  # the bulkIds it refers to
    error: Problem | None = None


@dataclass(frozen=True)
class Job:
    """A read BulkRequest."""

    fail_on_errors: int | None
    operations: list[Operation]


def read(payload: Any, kinds: Mapping[str, ResourceKind], max_operations: int) -> Job:
    """A BulkRequest body, checked as a whole; an operation's own faults stay with it."""
    doc = known_fields(read_object(payload), REQUEST_FIELDS, "A BulkRequest")
    schemas = doc.get("schemas")
    if not isinstance(schemas, list) or [str(s).lower() for s in schemas] != [BULK_REQUEST.lower()]:
        raise Problem(
            400, f'A BulkRequest\'s schemas must be ["{BULK_REQUEST}"].', scim_type="invalidSyntax"
        )
    fail_on_errors = doc.get("failOnErrors")
    if fail_on_errors is not None and (
        isinstance(fail_on_errors, bool)
        or not isinstance(fail_on_errors, int)
        or fail_on_errors < 1
    ):
        raise Problem(
            400,
            "failOnErrors must be a positive integer: the errors to accept before stopping.",
            scim_type="invalidValue",
        )
    raw = doc.get("Operations")
    if not isinstance(raw, list) or not all(isinstance(op, dict) for op in raw):
        raise Problem(
            400,
            "A BulkRequest needs Operations: a list of operation objects.",
            scim_type="invalidSyntax",
        )
    if len(raw) > max_operations:
        raise Problem(
            413,
            f"This request has {len(raw)} operations; at most {max_operations} are accepted in "
            "one request (bulk.maxOperations in /ServiceProviderConfig). Split it.",
            scim_type="tooMany",
        )
    operations = [_operation(op, kinds) for op in raw]
    named = [op.bulk_id for op in operations if op.bulk_id is not None]
    repeated = sorted({b for b in named if named.count(b) > 1})
    if repeated:
        raise Problem(
            400,
            f"bulkId {repeated[0]!r} is used by more than one operation; each must be unique.",
            scim_type="invalidValue",
        )
    return Job(fail_on_errors, operations)


def _operation(raw: dict[str, Any], kinds: Mapping[str, ResourceKind]) -> Operation:
    bulk_id = next((v for k, v in raw.items() if k.lower() == "bulkid"), None)
    op = Operation(bulk_id=bulk_id if isinstance(bulk_id, str) and bulk_id else None)
    try:
        fields = known_fields(raw, OPERATION_FIELDS, "An operation")
        method = fields.get("method")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise Problem(
                400, "method must be POST, PUT, PATCH or DELETE.", scim_type="invalidValue"
            )
        op.method = method.upper()
        op.kind, op.ident = _target(fields.get("path"), op.method, kinds)
        if bulk_id is not None and op.bulk_id is None:
            raise Problem(400, "bulkId must be a non-empty string.", scim_type="invalidValue")
        if op.method == "POST" and op.bulk_id is None:
            raise Problem(
                400,
                "A POST operation needs a bulkId (RFC 7644 §3.7), to find its result.",
                scim_type="invalidValue",
            )
        version = fields.get("version")
        if version is not None and not isinstance(version, str):
            raise Problem(400, 'version must be an ETag string (W/"3").', scim_type="invalidValue")
        op.version = version
        if op.method != "DELETE":
            data = fields.get("data")
            if not isinstance(data, dict):
                raise Problem(
                    400,
                    f"A {op.method} operation needs data: the JSON object a single "
                    f"{op.method} request would send.",
                    scim_type="invalidSyntax",
                )
            op.data = data
        op.needs = bulkids.references(op.data) | bulkids.references(op.ident)
    except Problem as exc:
        op.error = exc
    return op


def _target(path: Any, method: str, kinds: Mapping[str, ResourceKind]) -> tuple[ResourceKind, str]:
    """The resource type and id (empty for POST) a path names."""
    parts = path.strip().strip("/").split("/") if isinstance(path, str) else []
    kind = kinds.get(f"/{parts[0]}") if parts else None
    wanted = 1 if method == "POST" else 2
    if kind is None or len(parts) != wanted or not all(parts):
        where = "/Users or /Groups" if method == "POST" else "/Users/{id} or /Groups/{id}"
        raise Problem(
            400, f"The path of a {method} operation must be {where}.", scim_type="invalidPath"
        )
    return kind, parts[1] if method != "POST" else ""


@dataclass
class Run:
    """One request's operations being performed."""

    svc: Services
    request: Request
    who: Principal
    job: Job
    ids: dict[str, str] = field(default_factory=dict)  # bulkId → id of the resource created

    async def respond(self) -> dict[str, Any]:
        """Every operation that runs before failOnErrors stops the job, as a BulkResponse."""
        ops = self.job.operations
        producers = {
            op.bulk_id: i
            for i, op in enumerate(ops)
            if op.method == "POST" and op.bulk_id is not None
        }
        needs = [{producers[b] for b in op.needs if b in producers} for op in ops]
        circular = bulkids.in_cycles(needs)
        results: dict[int, dict[str, Any]] = {}
        errors = 0
        for index in bulkids.order(needs, circular):
            op = ops[index]
            refused = op.error or self._refusal(op, index in circular, producers)
            entry = await self._result(op, refused)
            results[index] = entry
            if int(entry["status"]) >= 400:
                errors += 1
                if self.job.fail_on_errors is not None and errors >= self.job.fail_on_errors:
                    break
        return {"schemas": [BULK_RESPONSE], "Operations": [results[i] for i in sorted(results)]}

    def _refusal(self, op: Operation, circular: bool, producers: dict[str, int]) -> Problem | None:
        """Why an operation cannot run for its references, if it cannot."""
        named = ", ".join(f"bulkId:{b}" for b in sorted(op.needs))
        if circular:
            return Problem(
                409,
                f"The references of this operation ({named}) go round in a cycle, so no order "
                "can run them; create the resources first and link them with a later PATCH.",
                scim_type="invalidValue",
            )
        unknown = sorted(b for b in op.needs if b not in producers)
        if unknown:
            return Problem(
                400,
                f"bulkId:{unknown[0]} names no POST operation of this request.",
                scim_type="invalidValue",
            )
        failed = sorted(b for b in op.needs if b not in self.ids)
        if failed:
            return Problem(
                409,
                f"bulkId:{failed[0]} refers to an operation that failed, so this one was not run.",
                scim_type="invalidValue",
            )
        return None

    async def _result(self, op: Operation, refused: Problem | None) -> dict[str, Any]:
        """Run one operation (unless refused) and describe its outcome."""
        done: Written | None = None
        problem = refused
        if problem is None and op.kind is not None and op.method is not None:
            ident = bulkids.resolve(op.ident, self.ids)
            data = bulkids.resolve(op.data, self.ids)
            try:
                done = await perform(
                    self.svc, self.request, self.who, op.kind, op.method, ident, data, op.version
                )
            except Problem as exc:
                problem = exc
            except Exception:
                log.exception("bulk operation failed", method=op.method, path=op.kind.endpoint)
                problem = Problem(500, "This operation failed on our side; it wrote nothing.")
        entry: dict[str, Any] = {"method": op.method} if op.method else {}
        if op.bulk_id is not None:
            entry["bulkId"] = op.bulk_id
        if done is not None:
            if done.found is not None:
                entry["version"] = etag(done.found.version)
                if op.method == "POST" and op.bulk_id is not None:
                    self.ids[op.bulk_id] = str(done.found.resource.id)
            entry.update(location=done.location, status=str(done.status))
            return entry
        assert problem is not None
        if op.kind is not None and op.method != "POST":
            ref = bulkids.reference(op.ident)
            ident = self.ids.get(ref, op.ident) if ref is not None else op.ident
            entry["location"] = f"{base_url(self.request)}{op.kind.endpoint}/{ident}"
        error = document(problem)
        entry.update(status=error["status"], response=error)
        return entry


def bulk_router(svc: Services, kinds: Mapping[str, ResourceKind]) -> APIRouter:
    """The /Bulk route."""
    router = APIRouter(default_response_class=ScimResponse)
    Writer = Annotated[Principal, Depends(authenticator(svc, "scim:write"))]
    settings = svc.settings

    @router.post(
        "/Bulk",
        responses=documented(200, 400, 413),
        openapi_extra=body(BULK_SCHEMA),
        summary="Run many operations",
    )
    async def bulk(request: Request, who: Writer) -> Response:
        """Run POST, PUT, PATCH and DELETE operations on /Users and /Groups in one request,
        with bulkId references and failOnErrors; each operation commits on its own."""
        limit = settings.scim_bulk_max_payload_bytes
        if len(await request.body()) > limit:
            raise Problem(413, f"The size of the bulk operation exceeds maxPayloadSize ({limit}).")
        job = read(await read_json(request), kinds, settings.scim_bulk_max_operations)
        if job.operations:  # one request was counted; each operation counts as one more
            request.state.response_headers = await charge(svc, who, len(job.operations))
        return scim_json(await Run(svc, request, who, job).respond())

    return router
