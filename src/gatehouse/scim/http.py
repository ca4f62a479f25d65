"""SCIM on the wire: the media type, JSON bodies, entity tags and the service's base URL."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from gatehouse.kit.problems import Problem

PREFIX = "/scim/v2"
SCIM_JSON = "application/scim+json"
ETAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')


class ScimResponse(Response):
    """A SCIM document rendered with orjson as application/scim+json."""

    media_type = SCIM_JSON

    def render(self, content: Any) -> bytes:
        """Serialize the document."""
        return orjson.dumps(content)


def scim_json(
    doc: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> ScimResponse:
    """A SCIM response."""
    return ScimResponse(doc, status_code=status, headers=headers)


def etag(version: int) -> str:
    """The weak entity tag of a record version."""
    return f'W/"{version}"'


def tags_of(header: str) -> list[str] | None:
    """The opaque values of an If-Match / If-None-Match header; None for `*`."""
    if header.strip() == "*":
        return None
    return [match.group(1) for part in header.split(",") if (match := ETAG.fullmatch(part))]


def check_if_match(header: str | None, version: int) -> None:
    """412 unless the If-Match header (when sent) names the record's current version."""
    if header is None:
        return
    tags = tags_of(header)
    if tags is not None and str(version) not in tags:
        raise Problem(
            412,
            f"The resource is at version {etag(version)}, not {header.strip()}; "
            "fetch it again and retry.",
        )


def not_modified(header: str | None, version: int) -> bool:
    """Whether If-None-Match names the current version (or `*`), so a GET may answer 304."""
    if header is None:
        return False
    tags = tags_of(header)
    return tags is None or str(version) in tags


async def read_json(request: Request) -> Any:
    """The request body as JSON, or 400 invalidSyntax."""
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Problem(
            400, "The request body is not valid JSON.", scim_type="invalidSyntax"
        ) from None


def read_object(payload: Any) -> dict[str, Any]:
    """A JSON object, or 400 invalidSyntax."""
    if not isinstance(payload, dict):
        raise Problem(400, "The request body must be a JSON object.", scim_type="invalidSyntax")
    return payload


def base_url(request: Request) -> str:
    """The absolute URL of the SCIM service for this request."""
    return str(request.base_url).rstrip("/") + PREFIX


def known_fields(doc: dict[str, Any], names: Iterable[str], what: str) -> dict[str, Any]:
    """An object's members by their canonical names (SCIM names ignore case); 400
    invalidSyntax for members it does not take."""
    canonical = {name.lower(): name for name in names}
    unknown = sorted(key for key in doc if key.lower() not in canonical)
    if unknown:
        raise Problem(
            400,
            f"{what} does not take {', '.join(unknown)}; it takes {', '.join(canonical.values())}.",
            scim_type="invalidSyntax",
        )
    return {canonical[key.lower()]: value for key, value in doc.items()}
