"""Refuse, when a configuration is saved, endpoints the outbound guard would refuse anyway."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from gatehouse.config import IPNetwork
from gatehouse.decisions.routing.schemas import DecisionConfigIn
from gatehouse.kit.outbound import OutboundBlockedError, checked_address
from gatehouse.kit.problems import Problem


async def vet_endpoints(body: DecisionConfigIn, allow: Sequence[IPNetwork]) -> None:
    """422 naming the first endpoint on a private, loopback or link-local address.

    A name that does not resolve now is accepted: the guard checks it again on every connect.
    """
    for index, endpoint in enumerate(body.opa_endpoints):
        parts = urlsplit(endpoint.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            await checked_address(parts.hostname or "", port, allow)
        except OutboundBlockedError as exc:
            field = f"body.opa_endpoints.{index}.url"
            raise Problem(422, str(exc), errors=[{"field": field, "message": str(exc)}]) from None
        except OSError:
            continue
