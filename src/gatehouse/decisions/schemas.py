"""Request and response models of the decision settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DecisionSettings(BaseModel):
    """How a tenant's `/v1/data` requests are treated."""

    model_config = ConfigDict(extra="forbid")

    enrich: bool = Field(
        True,
        description="Replace `input.subject` (an id or userName, or an object with `id`) with "
        "the store's record of that user merged in (store fields win).",
    )
