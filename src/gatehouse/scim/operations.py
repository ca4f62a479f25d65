"""SCIM writes, one unit of work each: the single-resource routes and /Bulk run the same code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit.context import Actor
from gatehouse.auth.principal import Principal
from gatehouse.identity.provisioning import AmbiguousMatch
from gatehouse.kit.problems import Problem
from gatehouse.scim.http import base_url
from gatehouse.scim.resources import Found, ResourceKind
from gatehouse.services import Services

METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Written:
    """What one write did: its HTTP status, the resource now (None once deleted), its URL."""

    status: int
    found: Found | None
    location: str


@asynccontextmanager
async def writing(
    svc: Services, request: Request, who: Principal, action: str, record: str, target: str
) -> AsyncIterator[tuple[AsyncSession, Actor]]:
    """A SCIM write; a unique key taken by a concurrent writer in the meantime is 409."""
    try:
        async with svc.write(request, who, action, record, target) as unit:
            try:
                yield unit
            except IntegrityError:
                raise Problem(
                    409,
                    "A concurrent request took this userName, displayName or externalId; retry.",
                    scim_type="uniqueness",
                ) from None
    except AmbiguousMatch as refused:
        # The write rolled back; the record it could not place is still kept for review.
        async with svc.db.transaction() as session:
            session.add(refused.conflict)
        raise


async def perform(
    svc: Services,
    request: Request,
    who: Principal,
    kind: ResourceKind,
    method: str,
    ident: str,
    payload: dict[str, Any],
    if_match: str | None,
) -> Written:
    """Create (POST), replace (PUT), patch (PATCH) or delete (DELETE) one resource."""
    label, base = kind.name.lower(), base_url(request)
    if method == "POST":
        async with writing(svc, request, who, f"scim.{label}.create", kind.record, "") as (
            session,
            actor,
        ):
            found = await kind.create(session, actor, payload, base)
        return Written(201, found, found.location)
    target = (kind.record, ident)
    if method == "DELETE":
        async with writing(svc, request, who, f"scim.{label}.delete", *target) as (s, actor):
            await kind.delete(s, actor, ident, if_match)
        return Written(204, None, f"{base}{kind.endpoint}/{ident}")
    action, write = ("replace", kind.replace) if method == "PUT" else ("patch", kind.patch)
    async with writing(svc, request, who, f"scim.{label}.{action}", *target) as (s, actor):
        found = await write(s, actor, ident, payload, if_match, base)
    return Written(200, found, found.location)
