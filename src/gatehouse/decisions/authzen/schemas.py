"""The enterprise request of `/v1/authorize`: who does what to which resource, and the answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gatehouse.decisions.batch import Verdict


class AuthorizeRequest(BaseModel):
    """One question; it is the policy input as sent (subject enriched from the store)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | dict[str, Any] = Field(
        description="Who asks: an id or userName, or an object with `id`."
    )
    action: str | dict[str, Any] = Field(description="What they want to do, e.g. `read`.")
    resource: str | dict[str, Any] = Field(description="What they want to do it to.")
    resource_type: str | None = Field(None, max_length=200)
    resource_namespace: str | None = Field(None, max_length=200)
    compliance_requirements: list[str] = Field(
        default_factory=list, max_length=50, description="e.g. `soc2`, `pci-dss`, `hipaa`."
    )
    context: dict[str, Any] = Field(default_factory=dict)

    def input(self) -> dict[str, Any]:
        """The policy input: every field, unset ones as null or empty."""
        return self.model_dump()


class AuthorizeBatch(BaseModel):
    """Several questions, answered in order."""

    model_config = ConfigDict(extra="forbid")

    requests: list[AuthorizeRequest] = Field(min_length=1)


class AuthorizeResponse(BaseModel):
    """The answer to one question."""

    allow: bool
    constraints: dict[str, Any] = Field(
        description="What the rule's object result adds (`{}` for a boolean rule)."
    )
    reasons: list[str] = Field(description="Why (from the rule, or why it did not decide).")
    decision_id: str = Field(description="The decision's id in the decision log.")
    engine: str = Field(description="`embedded`, `remote`, `fallback:...` or `error`.")
    cached: bool = Field(description="Whether the answer came from the decision cache.")

    @classmethod
    def of(cls, verdict: Verdict) -> AuthorizeResponse:
        """The response of a verdict."""
        return cls(
            allow=verdict.allow,
            constraints=verdict.constraints,
            reasons=verdict.reasons,
            decision_id=verdict.decision_id,
            engine=verdict.engine,
            cached=verdict.cached,
        )


class AuthorizeResults(BaseModel):
    """The answers of a batch, in the order of its requests."""

    results: list[AuthorizeResponse]
