"""Bodies of the conflicts API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["open", "resolved", "dismissed"]
Kind = Literal["precedence", "ambiguous"]
Action = Literal["accept", "keep", "dismiss"]


class ConflictOut(BaseModel):
    """A value a source offered that was not applied, or a record that matched several people."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str = Field(
        description="precedence: the value lost to a stronger source; ambiguous: the record "
        "matched more than one identity and was linked to none."
    )
    status: str = Field(description="open, resolved (accepted or kept) or dismissed.")
    resolution: str | None = Field(None, description="accept, keep or dismiss, once decided.")
    identity_id: str | None = Field(
        None, description="The identity concerned (ambiguous: the one chosen on accept)."
    )
    attribute: str = Field(description="precedence: the attribute, e.g. department.")
    source: str = Field(description="Where the value came from: a connection id, or scim.")
    external_id: str = Field(description="The source's id for the record.")
    offered: Any = Field(None, description="The value offered (ambiguous: the whole record).")
    kept: Any = Field(None, description="The value the identity kept.")
    kept_source: str = Field(description="The source holding the kept value.")
    candidates: list[str] | None = Field(
        None, description="ambiguous: the identities the record matched."
    )
    at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str | None = None


class ResolveIn(BaseModel):
    """A decision on an open conflict."""

    model_config = ConfigDict(extra="forbid")

    action: Action = Field(
        description="accept: take the offered value (ambiguous: link the record to "
        "`identity_id`); keep: keep the current value; dismiss: close it, changing nothing. "
        "accept and keep pin the attribute's value as the `manual` source, so later syncs do "
        "not overwrite it (a different value they offer is raised as a new conflict)."
    )
    identity_id: str | None = Field(
        None,
        max_length=36,
        description="accept of an ambiguous match: the identity the record describes.",
    )
    note: str | None = Field(None, max_length=1000, description="Why, for the record.")
