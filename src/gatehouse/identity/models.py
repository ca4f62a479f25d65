"""The identity store: identities, groups, memberships, resources, links and versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gatehouse.db.base import Base, IdMixin, JSONDoc, TenantOwned, Timestamps, utcnow
from gatehouse.db.types import BigIntPK


class Identity(IdMixin, TenantOwned, Timestamps, Base):
    """A person or service account: SCIM User core and enterprise attributes."""

    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_name_key", name="uq_identities_tenant_user_name"),
        Index("ix_identities_tenant_email", "tenant_id", "email"),
        # Correlation compares e-mail addresses case-insensitively.
        Index("ix_identities_tenant_email_lower", "tenant_id", text("lower(email)")),
        Index("ix_identities_tenant_employee", "tenant_id", "employee_number"),
        Index("ix_identities_tenant_external", "tenant_id", "external_id"),
    )

    tenant_index = False
    user_name: Mapped[str] = mapped_column(String(256))
    user_name_key: Mapped[str] = mapped_column(
        String(256)
    )  # lower-cased: userName is caseExact=false
    external_id: Mapped[str | None] = mapped_column(String(256), default=None)
    display_name: Mapped[str | None] = mapped_column(String(256), default=None)
    given_name: Mapped[str | None] = mapped_column(String(128), default=None)
    family_name: Mapped[str | None] = mapped_column(String(128), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    title: Mapped[str | None] = mapped_column(String(256), default=None)
    employee_number: Mapped[str | None] = mapped_column(String(64), default=None)
    department: Mapped[str | None] = mapped_column(String(256), default=None)
    organization: Mapped[str | None] = mapped_column(String(256), default=None)
    cost_center: Mapped[str | None] = mapped_column(String(64), default=None)
    manager_id: Mapped[str | None] = mapped_column(String(36), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    risk_score: Mapped[int] = mapped_column(Integer, default=0)
    risk_factors: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    # Which source set each attribute's current value (for per-attribute precedence).
    provenance: Mapped[dict[str, str]] = mapped_column(JSONDoc, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


def status_for(active: bool) -> str:
    """A live identity's status follows its `active` flag."""
    return "active" if active else "suspended"


class Group(IdMixin, TenantOwned, Timestamps, Base):
    """A named set of identities and other groups."""

    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "display_name_key", name="uq_groups_tenant_display_name"),
    )

    tenant_index = False
    display_name: Mapped[str] = mapped_column(String(256))
    display_name_key: Mapped[str] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(256), default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class Membership(TenantOwned, Base):
    """An identity or a group directly inside a group."""

    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_member", "tenant_id", "member_id"),)

    tenant_index = False
    group_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_type: Mapped[str] = mapped_column(String(16))  # "identity" or "group"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The source that stated the membership ("" when an operator or SCIM added it) and the
    # last full sync run that saw it: a full run removes only its own unseen memberships.
    source: Mapped[str] = mapped_column(String(64), default="", server_default="")
    seen_run: Mapped[str | None] = mapped_column(String(36), default=None)


class Resource(IdMixin, TenantOwned, Timestamps, Base):
    """A typed record from a "what" source: a repository, an account, a document."""

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("tenant_id", "type", "key", name="uq_resources_tenant_type_key"),
    )

    type: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(256))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Set when the sources that described it stopped doing so (full-run deletion detection).
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class SourceLink(TenantOwned):
    """A source's id for a record (tenant, source, external id) and when a full run saw it."""

    tenant_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last full sync run that saw this record (deletion detection).
    seen_run: Mapped[str | None] = mapped_column(String(36), default=None)


class IdentityLink(SourceLink, Base):
    """Which identity a source's record describes (source + its id for the person)."""

    __tablename__ = "identity_links"
    __table_args__ = (
        Index("ix_identity_links_identity", "tenant_id", "identity_id"),
        # Enrichment finds a subject by any source's id for them.
        Index("ix_identity_links_external", "tenant_id", "external_id"),
    )

    identity_id: Mapped[str] = mapped_column(String(36))
    # The source's own id for this person's manager, as the source stated it ("" when it says
    # there is none, None when it never said); resolved to an identity at the end of each run.
    manager_ref: Mapped[str | None] = mapped_column(String(256), default=None)


class GroupLink(SourceLink, Base):
    """Which group a source's record describes."""

    __tablename__ = "group_links"
    __table_args__ = (Index("ix_group_links_group", "tenant_id", "group_id"),)

    group_id: Mapped[str] = mapped_column(String(36))


class ResourceLink(SourceLink, Base):
    """Which resource a source's record describes."""

    __tablename__ = "resource_links"
    __table_args__ = (Index("ix_resource_links_resource", "tenant_id", "resource_id"),)

    resource_id: Mapped[str] = mapped_column(String(36))


class RecordVersion(TenantOwned, Base):
    """The before and after of one change to a record, and who made it."""

    __tablename__ = "record_versions"
    __table_args__ = (Index("ix_record_versions_record", "tenant_id", "record_type", "record_id"),)

    tenant_index = False
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Conflict(IdMixin, TenantOwned, Base):
    """A value a source offered that was not applied: it lost on precedence, or the record
    matched more than one identity. Kept for review, never silently dropped."""

    __tablename__ = "conflicts"
    __table_args__ = (
        Index("ix_conflicts_identity", "tenant_id", "identity_id"),
        Index("ix_conflicts_status", "tenant_id", "status", "id"),
    )

    kind: Mapped[str] = mapped_column(String(16))  # "precedence" or "ambiguous"
    identity_id: Mapped[str | None] = mapped_column(String(36), default=None)
    attribute: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(256), default="")
    offered: Mapped[Any] = mapped_column(JSONDoc, default=None, nullable=True)
    kept_source: Mapped[str] = mapped_column(String(64), default="")
    kept: Mapped[Any] = mapped_column(JSONDoc, default=None, nullable=True)
    # Ambiguous matches: the identities the record matched.
    candidates: Mapped[list[str] | None] = mapped_column(JSONDoc, default=None, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # Review: open, resolved (accept or keep) or dismissed; who decided and when.
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    resolution: Mapped[str | None] = mapped_column(String(16), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    note: Mapped[str | None] = mapped_column(String(1000), default=None)
