"""Request and response models of the decision settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_ENTRYPOINT = "authz/allow"


class DecisionSettings(BaseModel):
    """How a tenant's decision requests are treated (`PUT` replaces every setting)."""

    model_config = ConfigDict(extra="forbid")

    enrich: bool = Field(
        True,
        description="Replace `input.subject` (an id or userName, or an object with `id`) with "
        "the store's record of that user merged in (store fields win).",
    )
    entrypoint: str = Field(
        DEFAULT_ENTRYPOINT,
        max_length=500,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$",
        description="The rule (slash-separated path under `data`) AuthZEN's `/access/v1` and "
        "`/v1/authorize` evaluate: a boolean, or an object `{allow, constraints, reasons}`.",
    )
