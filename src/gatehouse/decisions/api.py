"""Routes: OPA's REST API (Data and Policy APIs) served by Gatehouse's decision engines.

Responses and errors have OPA's shapes (not problem+json), so OPA's clients and SDKs work
unchanged against Gatehouse.
"""

import time
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Query, Request
from fastapi.responses import Response

from gatehouse.auth.deps import authenticator
from gatehouse.auth.principal import Principal
from gatehouse.decisions import (
    dataread,
    default,
    explanations,
    inputs,
    localdata,
    opa,
    policies,
)
from gatehouse.decisions.schemas import DecisionSettings
from gatehouse.decisions.service import Answer, decide
from gatehouse.kit.fastpath import FastRouter
from gatehouse.kit.http import problems
from gatehouse.services import Services, client_ip

SETTINGS = "/v1/decision-settings"
DATA = "/v1/data"
POLICIES = "/v1/policies"
ROOT = "/"
PREFIXES = (DATA, POLICIES, ROOT)
Flag = Annotated[bool, Query(description="OPA's flag of the same name.")]
# The query strings a fast POST /v1/data answers itself (any other takes the documented route).
PLAIN_FLAGS = {b"metrics", b"pretty"}
PLAIN_VALUES = {b"true": True, b"false": False}
Explain = Annotated[
    str,
    Query(
        description="OPA's explanation (`notes`, `fails`, `full`, `debug`; other values are "
        "ignored, as OPA ignores them): passed on to a tenant's remote OPA, whose "
        "`explanation` is returned; 400 for a tenant the embedded engine serves (it records "
        "no trace)."
    ),
]
EVALUATED = opa.responses(400, 500)
DEFAULT_DECIDED: dict[int | str, dict[str, Any]] = {
    **opa.responses(400, 500),
    200: {
        "description": "The default decision's value, bare (no `result` wrapper).",
        "content": {"application/json": {"schema": {}}},
    },
    404: {
        **opa.ERROR_SCHEMA,
        "description": "The default decision is undefined (OPA's `undefined_document`).",
    },
}
ROOT_BODY: dict[str, Any] = {
    "requestBody": {
        "description": 'The input itself (not wrapped in `{"input": ...}`); optional.',
        "content": {"application/json": {"schema": {}}},
    }
}
INPUT_BODY: dict[str, Any] = {
    "requestBody": {
        "description": 'OPA\'s `{"input": ...}`; the input is optional, and an empty body or '
        "`null` means none (as OPA reads it).",
        "content": {"application/json": {"schema": {"type": ["object", "null"]}}},
    }
}
JSON_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}
}
REGO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The Rego module's source.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def dumps(doc: Any, pretty: bool) -> Response:
    """A JSON response, indented when `?pretty` asked."""
    option = orjson.OPT_INDENT_2 if pretty else 0
    return Response(orjson.dumps(doc, option=option), media_type="application/json")


def shape(answer: Answer, metrics: bool) -> dict[str, Any]:
    """OPA's Data API document: `result` only when defined, `decision_id`, `metrics` if asked."""
    doc: dict[str, Any] = {}
    if answer.decision.defined:
        doc["result"] = answer.decision.result
    doc["decision_id"] = answer.decision_id
    if metrics:
        doc["metrics"] = answer.metrics
    return doc


def shaped(answer: Answer, metrics: bool, pretty: bool) -> Response:
    """OPA's Data API response."""
    return dumps(shape(answer, metrics), pretty)


def plain_flags(query: bytes) -> dict[bytes, bool] | None:
    """`?metrics=true&pretty=false` and the like as flags, or None for any other query string."""
    flags: dict[bytes, bool] = {}
    for pair in query.split(b"&") if query else ():
        name, _, value = pair.partition(b"=")
        if name not in PLAIN_FLAGS or value not in PLAIN_VALUES or name in flags:
            return None
        flags[name] = PLAIN_VALUES[value]
    return flags


def build_router(svc: Services) -> FastRouter:
    """Routes under /v1/data and /v1/policies."""
    router = FastRouter(tags=["OPA REST API"])
    # Rules need decisions:evaluate, data documents data:read (dataread.check tells them apart).
    evaluator = authenticator(svc, "decisions:evaluate", dataread.SCOPE)
    Evaluator = Annotated[Principal, Depends(evaluator)]
    PolicyReader = Annotated[Principal, Depends(authenticator(svc, "policies:read"))]
    PolicyWriter = Annotated[Principal, Depends(authenticator(svc, "policies:write"))]
    settings = svc.settings

    async def evaluate(
        request: Request,
        who: Principal,
        path: str,
        input: Any,
        parsed_ns: int,
        started: int,
        metrics: bool,
        pretty: bool,
    ) -> Response:
        answer = await decide(
            svc,
            who.tenant_id,
            path,
            input,
            started_ns=started,
            parsed_ns=parsed_ns,
            requested_by=client_ip(request),
        )
        return shaped(answer, metrics, pretty)

    async def explained(
        request: Request, asked: explanations.Asked, started: int, parsed_ns: int, metrics: bool
    ) -> Response:
        """OPA's explain modes: the tenant's remote OPA answers with its `explanation`."""
        answer, explanation = await explanations.explained(
            svc, asked, started, parsed_ns, client_ip(request)
        )
        doc = shape(answer, metrics)
        if explanation is not None:
            doc["explanation"] = explanation
        return dumps(doc, pretty=asked.pretty)

    async def post_data(
        request: Request, who: Principal, path: str, metrics: bool, pretty: bool, explain: str
    ) -> Response:
        started = time.perf_counter_ns()
        await dataread.check(svc, request, who, path)
        raw = await request.body()
        value = inputs.input_of(
            raw, settings.decisions_max_input_depth, settings.decisions_max_input_nodes
        )
        parsed = time.perf_counter_ns() - started
        if explain and explain in explanations.MODES:  # OPA ignores other values
            asked = explanations.Asked(who.tenant_id, path, value, explain, pretty)
            return await explained(request, asked, started, parsed, metrics)
        return await evaluate(request, who, path, value, parsed, started, metrics, pretty)

    async def get_data(
        request: Request,
        who: Principal,
        path: str,
        input: str | None,
        metrics: bool,
        pretty: bool,
        explain: str,
    ) -> Response:
        started = time.perf_counter_ns()
        await dataread.check(svc, request, who, path)
        value = inputs.parse(input.encode(), "input document") if input else None
        if value is not None:
            inputs.check_size(
                value, settings.decisions_max_input_depth, settings.decisions_max_input_nodes
            )
        parsed = time.perf_counter_ns() - started
        if explain and explain in explanations.MODES:  # OPA ignores other values
            asked = explanations.Asked(who.tenant_id, path, value, explain, pretty)
            return await explained(request, asked, started, parsed, metrics)
        return await evaluate(request, who, path, value, parsed, started, metrics, pretty)

    @router.post(
        DATA + "/{path:path}",
        summary="Evaluate a rule or document",
        openapi_extra=INPUT_BODY,
        responses=EVALUATED,
    )
    async def data_post(
        request: Request,
        who: Evaluator,
        path: str,
        metrics: Flag = False,
        pretty: Flag = False,
        explain: Explain = "",
    ) -> Response:
        """OPA's Data API: the value of `data.<path>` for the input, `{"result": ...,
        "decision_id": ...}`; no `result` when undefined. The input's `subject` is enriched
        with the store's record when the tenant has enrichment on."""
        return await post_data(request, who, path, metrics, pretty, explain)

    @router.post(
        DATA,
        summary="Evaluate the whole data document",
        openapi_extra=INPUT_BODY,
        responses=EVALUATED,
    )
    async def data_post_root(
        request: Request,
        who: Evaluator,
        metrics: Flag = False,
        pretty: Flag = False,
        explain: Explain = "",
    ) -> Response:
        """OPA's Data API at the root: every document and rule value."""
        return await post_data(request, who, "", metrics, pretty, explain)

    @router.get(DATA + "/{path:path}", summary="Read a rule or document", responses=EVALUATED)
    async def data_get(
        request: Request,
        who: Evaluator,
        path: str,
        input: Annotated[str | None, Query(description="The input as JSON.")] = None,
        metrics: Flag = False,
        pretty: Flag = False,
        explain: Explain = "",
    ) -> Response:
        """OPA's Data API with GET: no input unless `?input=` carries one as JSON."""
        return await get_data(request, who, path, input, metrics, pretty, explain)

    @router.get(DATA, summary="Read the whole data document", responses=EVALUATED)
    async def data_get_root(
        request: Request,
        who: Evaluator,
        input: Annotated[str | None, Query(description="The input as JSON.")] = None,
        metrics: Flag = False,
        pretty: Flag = False,
        explain: Explain = "",
    ) -> Response:
        """OPA's Data API with GET at the root."""
        return await get_data(request, who, "", input, metrics, pretty, explain)

    @router.post(
        ROOT,
        summary="Evaluate the default decision",
        openapi_extra=ROOT_BODY,
        responses=DEFAULT_DECIDED,
    )
    async def default_decision(request: Request, who: Evaluator, pretty: Flag = False) -> Response:
        """OPA's Query API with the default decision: the body is the input (not wrapped in
        `{"input": ...}`), and the answer is the bare value of the tenant's default decision
        (`/system/main` unless its decision configuration names another); 404
        `undefined_document` when it is undefined. Enriched and logged like `/v1/data`."""
        started = time.perf_counter_ns()
        value = default.body_input(
            await request.body(),
            settings.decisions_max_input_depth,
            settings.decisions_max_input_nodes,
        )
        parsed = time.perf_counter_ns() - started
        path = svc.decision_router.default_decision(who.tenant_id)
        await dataread.check(svc, request, who, path)
        answer = await decide(
            svc,
            who.tenant_id,
            path,
            value,
            started_ns=started,
            parsed_ns=parsed,
            requested_by=client_ip(request),
        )
        if not answer.decision.defined:
            raise default.undefined(path)
        return dumps(answer.decision.result, pretty)

    @router.put(
        DATA + "/{path:path}",
        status_code=204,
        openapi_extra=JSON_BODY,
        responses=opa.responses(304, 400),
    )
    async def data_put(
        request: Request,
        who: PolicyWriter,
        path: str,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Create or replace tenant-local data at the path (never under the store's document
        root). `If-None-Match: *` leaves an existing value alone (304)."""
        parts = opa.segments(path)
        value = inputs.required(await request.body(), "JSON value")
        at = "/" + "/".join(parts)
        async with svc.write(request, who, "decision_data.put", "decision_data", at) as (s, a):
            done = await localdata.put(s, a, parts, value, if_none_match == "*")
        svc.subjects.forget(who.tenant_id)
        await svc.engines.changed(who.tenant_id)
        return Response(status_code=204 if done else 304)

    @router.patch(
        DATA + "/{path:path}",
        status_code=204,
        openapi_extra=JSON_BODY,
        responses=opa.responses(400, 404),
    )
    async def data_patch(request: Request, who: PolicyWriter, path: str) -> Response:
        """Apply a JSON Patch (`add`, `remove`, `replace`; paths relative to this one)."""
        parts = opa.segments(path)
        ops = inputs.required(await request.body(), "JSON Patch")
        at = "/" + "/".join(parts)
        async with svc.write(request, who, "decision_data.patch", "decision_data", at) as (s, a):
            await localdata.patch(s, a, parts, ops)
        svc.subjects.forget(who.tenant_id)
        await svc.engines.changed(who.tenant_id)
        return Response(status_code=204)

    @router.delete(DATA + "/{path:path}", status_code=204, responses=opa.responses(400, 404))
    async def data_delete(request: Request, who: PolicyWriter, path: str) -> Response:
        """Remove tenant-local data at the path."""
        parts = opa.segments(path)
        at = "/" + "/".join(parts)
        async with svc.write(request, who, "decision_data.delete", "decision_data", at) as (s, a):
            await localdata.delete(s, a, parts)
        svc.subjects.forget(who.tenant_id)
        await svc.engines.changed(who.tenant_id)
        return Response(status_code=204)

    @router.get(POLICIES, summary="List policies", responses=opa.responses())
    async def policies_list(who: PolicyReader, pretty: Flag = False) -> Response:
        """OPA's Policy API: every policy module of the tenant, `{"result": [{"id", "raw",
        "ast"}]}`; `ast` is regorus's syntax tree of the module, not OPA's AST shape."""
        async with svc.read() as session:
            found = await policies.all_of(session, who.tenant_id)
        return dumps({"result": [policies.document(p) for p in found]}, pretty)

    @router.get(
        POLICIES + "/{policy_id:path}", summary="Read a policy", responses=opa.responses(404)
    )
    async def policy_get(who: PolicyReader, policy_id: str, pretty: Flag = False) -> Response:
        """One policy module, `{"result": {"id", "raw", "ast"}}` (`ast`: regorus's syntax tree,
        not OPA's AST shape)."""
        async with svc.read() as session:
            found = await policies.one(session, who.tenant_id, policy_id)
        if found is None:
            raise policies.not_found(policy_id)
        return dumps({"result": policies.document(found)}, pretty)

    @router.put(
        POLICIES + "/{policy_id:path}",
        summary="Create or update a policy",
        openapi_extra=REGO_BODY,
        responses=opa.responses(400),
    )
    async def policy_put(
        request: Request, who: PolicyWriter, policy_id: str, pretty: Flag = False
    ) -> Response:
        """Upload a Rego module (the body, `Content-Type: text/plain`). It must compile with the
        tenant's other modules (else OPA's 400 with the compiler's message); every upload is kept
        as a version, and the change reaches bundles and engines as a new revision."""
        policies.checked_id(policy_id)
        try:
            text = (await request.body()).decode()
        except UnicodeDecodeError:
            raise opa.error(400, "invalid_parameter", "the policy is not UTF-8 text") from None
        async with svc.write(request, who, "policy.put", "policy", policy_id) as (s, actor):
            await policies.put(s, actor, policy_id, text)
        await svc.engines.changed(who.tenant_id)
        return dumps({}, pretty)

    @router.delete(
        POLICIES + "/{policy_id:path}", summary="Delete a policy", responses=opa.responses(404)
    )
    async def policy_delete(
        request: Request, who: PolicyWriter, policy_id: str, pretty: Flag = False
    ) -> Response:
        """Remove a policy module (its versions are kept)."""
        async with svc.write(request, who, "policy.delete", "policy", policy_id) as (s, actor):
            await policies.delete(s, actor, policy_id)
        await svc.engines.changed(who.tenant_id)
        return dumps({}, pretty)

    @router.get(SETTINGS, summary="Read the decision settings", responses=problems())
    async def settings_get(who: PolicyReader) -> DecisionSettings:
        """Whether decisions enrich `input.subject` with the store's record (default on), and
        the rule AuthZEN and `/v1/authorize` evaluate."""
        tenant = who.tenant_id
        enrich = await svc.subjects.enabled(tenant)
        return DecisionSettings(enrich=enrich, entrypoint=await svc.subjects.entrypoint(tenant))

    @router.put(SETTINGS, summary="Change the decision settings", responses=problems(422))
    async def settings_put(
        request: Request, who: PolicyWriter, body: DecisionSettings
    ) -> DecisionSettings:
        """Change the settings the body names (others keep their values): subject enrichment
        on or off, the entrypoint rule. Answers every setting as it now is."""
        unit = svc.write(request, who, "decision_settings.put", "decision_settings", "")
        async with unit as (session, actor):
            now = await localdata.set_settings(session, actor, body)
        svc.subjects.forget(who.tenant_id)
        return now

    async def data_post_fast(request: Request) -> Response | None:
        """`data_post` for plain requests, without routing and dependency solving."""
        path = request.scope["path"][len(DATA) + 1 :]
        flags = plain_flags(request.scope["query_string"])
        if not path or flags is None:
            return None
        who = await evaluator(request)
        metrics, pretty = flags.get(b"metrics", False), flags.get(b"pretty", False)
        return await post_data(request, who, path, metrics, pretty, "")

    router.add_fast("POST", DATA + "/{path:path}", data_post_fast)
    return router
