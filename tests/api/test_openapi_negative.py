"""A deterministic negative walk over /openapi.json: every operation gets requests a fuzzer
would send (no token, a malformed body, integers beyond 64 bits, NUL characters) on PostgreSQL,
and must answer no 5xx and only statuses its operation documents."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Harness

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
BIG = b"18446744073709551616"
ALWAYS = {"401", "403", "404", "405", "413", "429"}  # auth, routing and limits, on any route


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (path, method, operation)."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method.upper(), op


def filled(path: str, value: str = "x") -> str:
    """The path with each `{parameter}` replaced by `value`."""
    return re.sub(r"\{[^}]+\}", value, path)


def media(op: dict[str, Any]) -> str:
    """The operation's first request media type (JSON when it takes none)."""
    content = op.get("requestBody", {}).get("content", {})
    return next(iter(content), "application/json")


def cases(path: str, method: str, op: dict[str, Any]) -> Iterator[tuple[str, str, bytes, bool]]:
    """(name, url, body, authenticated) of each negative request for an operation."""
    url = filled(path)
    yield "no-token", url, b"", False
    if "{" in path:
        yield "nul-path", filled(path, "a%00b"), b"", True
    yield "nul-query", url + "?filter=a%00&limit=1", b"", True
    if "requestBody" in op and "json" in media(op):
        yield "malformed", url, b'{"a": ', True
        yield "big-int", url, b'{"n": ' + BIG + b', "settings": {"n": ' + BIG + b"}}", True
        yield "nul-body", url, b'{"name": "a\\u0000", "id": "a\\u0000"}', True
        yield "big-int-bare", url, BIG, True


async def test_no_5xx_and_only_documented_statuses(harness: Harness) -> None:
    """No generated request is a server error, and each answer's status is documented."""
    await harness.tenant("fuzz")
    token = await harness.token("fuzz", "admin:*")
    spec = (await harness.client.get("/openapi.json")).json()
    failures: list[str] = []
    seen = 0
    for path, method, op in operations(spec):
        documented = set(op.get("responses", {})) | ALWAYS
        for name, url, body, authed in cases(path, method, op):
            headers = {"Content-Type": media(op)}
            if authed:
                headers.update(harness.auth(token))
            resp = await harness.client.request(method, url, content=body, headers=headers)
            seen += 1
            status = str(resp.status_code)
            if resp.status_code >= 500:
                failures.append(f"{method} {url} [{name}]: {status} {resp.text[:200]}")
            elif status not in documented and not status.startswith("2"):
                failures.append(f"{method} {url} [{name}]: {status} undocumented")
            if not authed and "security" in op and resp.status_code != 401:
                failures.append(f"{method} {url} [{name}]: {status} without a token")
    assert seen > 200
    assert not failures, "\n".join(failures)
