"""Routes: OpenID AuthZEN Authorization API 1.0 (`/access/v1`, its metadata) and the enterprise
`/v1/authorize` request; both evaluate the tenant's entrypoint rule (decision settings)."""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.decisions import inputs
from gatehouse.decisions.authzen import errors, wire
from gatehouse.decisions.authzen.schemas import (
    AuthorizeBatch,
    AuthorizeRequest,
    AuthorizeResponse,
    AuthorizeResults,
)
from gatehouse.decisions.batch import Verdict, decide_all
from gatehouse.kit.http import problems
from gatehouse.kit.problems import Problem
from gatehouse.services import Services, client_ip

ACCESS = "/access/v1"
EVALUATION = ACCESS + "/evaluation"
EVALUATIONS = ACCESS + "/evaluations"
METADATA = "/.well-known/authzen-configuration"
AUTHORIZE = "/v1/authorize"
PREFIXES = (ACCESS,)
BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "AuthZEN's request: `subject`, `action`, `resource`, `context`.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def failed(verdict: Verdict) -> Problem | None:
    """The error of a single evaluation that could not be made (500, or 400 for its input)."""
    if verdict.error is None:
        return None
    return Problem(verdict.error.status, f"the decision could not be made: {verdict.error.message}")


def build_router(svc: Services) -> APIRouter:
    """AuthZEN's routes, its metadata document and `/v1/authorize`."""
    router = APIRouter(tags=["AuthZEN and /v1/authorize"])
    Evaluator = Annotated[Principal, Depends(authenticator(svc, "decisions:evaluate"))]
    settings = svc.settings

    async def evaluated(
        request: Request, who: Principal, docs: list[Any], api: str, stop_on: bool | None = None
    ) -> list[Verdict]:
        return await decide_all(
            svc, who.tenant_id, docs, api=api, requested_by=client_ip(request), stop_on=stop_on
        )

    async def body(request: Request) -> dict[str, Any]:
        wire.json_media(request.headers.get("content-type"))
        raw = await request.body()
        depth, nodes = settings.decisions_max_input_depth, settings.decisions_max_input_nodes
        return wire.document(raw, depth, nodes)

    async def single(request: Request, who: Principal, doc: dict[str, Any], api: str) -> Response:
        (verdict,) = await evaluated(request, who, [doc], api)
        problem = failed(verdict)
        if problem is not None:
            raise problem
        return Response(orjson.dumps(wire.answer(verdict)), media_type="application/json")

    @router.get(METADATA, summary="AuthZEN metadata")
    async def metadata(request: Request) -> dict[str, str]:
        """The PDP's AuthZEN metadata: its identifier and endpoints (public, no token)."""
        base = str(request.base_url).rstrip("/")
        return {
            "policy_decision_point": base,
            "access_evaluation_endpoint": base + EVALUATION,
            "access_evaluations_endpoint": base + EVALUATIONS,
        }

    @router.post(
        EVALUATION,
        summary="AuthZEN: one evaluation",
        openapi_extra=BODY,
        responses=errors.responses(),
    )
    async def evaluation(request: Request, who: Evaluator) -> Response:
        """`{"decision": bool, "context": {"decision_id", "reasons"?, "constraints"?}}` for the
        tenant's entrypoint rule; an undefined or non-boolean result is `false` with a reason."""
        return await single(request, who, wire.checked(await body(request)), EVALUATION)

    @router.post(
        EVALUATIONS,
        summary="AuthZEN: many evaluations",
        openapi_extra=BODY,
        responses=errors.responses(),
    )
    async def evaluations(request: Request, who: Evaluator) -> Response:
        """`{"evaluations": [{"decision", "context"}, ...]}` in the request's order; top-level
        `subject`, `action`, `resource`, `context` are defaults each item overrides, and
        `options.evaluations_semantic` may stop after the first deny or permit. Without
        `evaluations` (or with an empty one) it is a single evaluation, answered as one."""
        doc = await body(request)
        docs, stop_on = wire.batch(doc, settings.authzen_max_evaluations)
        if not doc.get("evaluations"):
            return await single(request, who, docs[0], EVALUATIONS)
        verdicts = await evaluated(request, who, docs, EVALUATIONS, stop_on)
        out = {"evaluations": [wire.answer(v) for v in verdicts]}
        return Response(orjson.dumps(out), media_type="application/json")

    @router.post(AUTHORIZE, summary="Authorize one request", responses=problems(400, 422, 500))
    async def authorize(
        request: Request, who: Evaluator, body: AuthorizeRequest
    ) -> AuthorizeResponse:
        """Evaluate the tenant's entrypoint rule for the request: `allow`, with `constraints`
        and `reasons` when the rule returns an object `{allow, constraints, reasons}`."""
        doc = body.input()
        inputs.check_size(
            doc, settings.decisions_max_input_depth, settings.decisions_max_input_nodes
        )
        (verdict,) = await evaluated(request, who, [doc], AUTHORIZE)
        problem = failed(verdict)
        if problem is not None:
            raise problem
        return AuthorizeResponse.of(verdict)

    @router.post(
        AUTHORIZE + "/batch", summary="Authorize many requests", responses=problems(400, 422)
    )
    async def authorize_batch(
        request: Request, who: Evaluator, body: AuthorizeBatch
    ) -> AuthorizeResults:
        """Every request answered in order; one that could not be decided is denied with the
        reason (`engine` `error`)."""
        most = settings.authzen_max_evaluations
        if len(body.requests) > most:
            raise Problem(400, f"requests holds {len(body.requests)} items, at most {most}")
        docs = [item.input() for item in body.requests]
        depth, nodes = settings.decisions_max_input_depth, settings.decisions_max_input_nodes
        inputs.check_size(docs, depth, nodes)
        verdicts = await evaluated(request, who, docs, AUTHORIZE + "/batch")
        return AuthorizeResults(results=[AuthorizeResponse.of(v) for v in verdicts])

    return router
