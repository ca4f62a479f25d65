"""Fast routes: the busiest requests answered without FastAPI's routing and dependency solving.

A decision request spent more of its time being matched and having its dependencies solved and
its query parameters validated than being decided. A router may name, for a documented route of
its own, an endpoint that takes the bare `Request` and answers it, or answers None, before
reading anything, when the request is not the plain kind it handles (an unusual query string,
say): the request then takes the documented route as usual. Fast endpoints run inside the same
middleware and exception handlers as every route, so errors keep the path's dialect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

FastEndpoint = Callable[[Request], Awaitable[Response | None]]


@dataclass(frozen=True, slots=True)
class FastRoute:
    """POST/GET/... `prefix` and the paths under it, answered by `endpoint` when it can."""

    method: str
    prefix: str
    endpoint: FastEndpoint
    route: APIRoute  # the documented route: its path template names the request in metrics

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is this route's to try."""
        return method == self.method and (path == self.prefix or path.startswith(self.prefix + "/"))


class FastRouter(APIRouter):
    """An APIRouter whose documented routes may also have fast endpoints."""

    fast: list[FastRoute]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast = []

    def add_fast(self, method: str, template: str, endpoint: FastEndpoint) -> None:
        """Answer `method template` with `endpoint` when it can (the route must exist)."""
        for route in self.routes:
            if (
                isinstance(route, APIRoute)
                and route.path == template
                and method in (route.methods or ())
            ):
                prefix = template.split("/{", 1)[0]
                self.fast.append(FastRoute(method, prefix, endpoint, route))
                return
        raise LookupError(f"no documented route {method} {template}")


def fast_routes(routers: Iterable[APIRouter]) -> list[FastRoute]:
    """Every fast route of `routers`, longest prefix first."""
    found = [r for router in routers if isinstance(router, FastRouter) for r in router.fast]
    return sorted(found, key=lambda r: len(r.prefix), reverse=True)
