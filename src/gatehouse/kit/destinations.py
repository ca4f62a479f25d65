"""Stored credentials never follow a changed destination: the rule every write-only secret keeps.

A write-only secret (a password, a bearer token, a custom header) was given for one destination:
a URL, a host and port, and the TLS trust that proves who answers there. A write that changes
any of these while keeping a stored secret would hand it to a server nobody gave it to (a
`webhooks:write` token PATCHing only a URL could collect the stored `Authorization`). So such a
write is refused unless each stored secret is sent again, or explicitly cleared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def changed(
    before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]
) -> list[str]:
    """The destination fields whose value differs between the stored and the new settings."""
    return sorted(f for f in fields if before.get(f) != after.get(f))


def must_resend(
    moved: Sequence[str], kept: Iterable[str], field: str, clear: str
) -> list[dict[str, str]]:
    """The error (as a problem's `errors`) when a write keeps stored secrets although their
    destination moved; empty when it does not. `clear` says how to clear one instead."""
    stored = sorted(kept)
    if not moved or not stored:
        return []
    message = (
        f"{', '.join(moved)} changed, so the stored {', '.join(stored)} must be sent again, "
        f"or cleared with {clear} (stored credentials are never sent to a new destination)"
    )
    return [{"field": field, "message": message, "type": "secret_required"}]
