"""Route dispatch by first path segment, so a request is matched only against the routers that
can serve it.

FastAPI matches a request against every included router in order, twice for the router that
answers; with a hundred and more routes that was a third of the time of a `304` from
`/bundles/{tenant}`. The app keeps its one router (OpenAPI, docs, 404s); each first segment
(`bundles`, `scim`, `v1`, ...) also gets a shard router holding only the routers with a path
under it, and a request goes to its shard when there is one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gatehouse.kit.fastpath import fast_routes

# A router with a route whose first segment is a parameter belongs in every shard.
ANY = "*"


def first_segment(path: str) -> str:
    """`bundles` of `/bundles/{tenant}`; ANY when the segment is a path parameter."""
    segment = path.lstrip("/").split("/", 1)[0]
    return ANY if "{" in segment else segment


def leaves(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str | None, BaseRoute]]:
    """Every route under `routes` with its full path format (None when it shows none),
    descending into included routers and their prefixes."""
    for route in routes:
        path = getattr(route, "path", None)
        inner = getattr(route, "original_router", None)
        if isinstance(path, str):
            yield prefix + path, route
        elif isinstance(inner, APIRouter):
            context = getattr(route, "include_context", None)
            yield from leaves(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
        else:
            yield None, route


def route_paths(routes: Iterable[BaseRoute]) -> Iterator[str | None]:
    """Every path format under `routes`; None when a route shows none (it is then placed in
    every shard)."""
    for path, _ in leaves(routes):
        yield path


def segments(router: APIRouter) -> set[str]:
    """The first segments a router serves (ANY when it may serve any)."""
    found = {ANY if path is None else first_segment(path) for path in route_paths(router.routes)}
    return {ANY} if ANY in found else found


def build_shards(routers: Sequence[APIRouter]) -> dict[str, APIRouter]:
    """One router per first segment, including (in the original order) the routers under it."""
    served = [(router, segments(router)) for router in routers]
    names = set().union(*(s for _, s in served)) - {ANY}
    shards: dict[str, APIRouter] = {}
    for name in sorted(names):
        shard = APIRouter()
        for router, under in served:
            if name in under or ANY in under:
                shard.include_router(router)
        shards[name] = shard
    return shards


def dispatch(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Route the app's HTTP requests through their fast routes (kit/fastpath.py) when they
    have one that answers, else through per-segment shards of `routers`."""
    shards = build_shards(routers)
    fast = fast_routes(routers)
    fallback: ASGIApp = app.router.middleware_stack

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            for candidate in fast:
                if candidate.matches(method, path):
                    scope.setdefault("router", app.router)
                    scope["route"] = candidate.route
                    response = await candidate.endpoint(Request(scope, receive))
                    if response is not None:
                        await response(scope, receive, send)
                        return
                    del scope["route"]
                    break
            shard = shards.get(first_segment(path))
            if shard is not None:
                scope.setdefault("router", app.router)
                await shard.app(scope, receive, send)
                return
        await fallback(scope, receive, send)

    app.router.middleware_stack = route
