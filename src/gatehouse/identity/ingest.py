"""Many source records at once: correlation and precedence applied set-wise.

`ingest_identities` does for a batch what `correlation.ingest` does for one record (link,
match, create, merge by precedence, record conflicts, version, event, risk score) with a fixed
number of statements per batch instead of several per record, so syncs and imports write tens of
thousands of records a second. One audit entry names the batch; versions and events are per
record. Nothing is written on a dry run; the report says what would have been.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.audit import service as audit
from gatehouse.audit.context import Actor
from gatehouse.db.bulk import update_many
from gatehouse.identity import rows as db
from gatehouse.identity.conflict_rows import conflict_row, insert_conflicts
from gatehouse.identity.managers import manager_refs, ref_row
from gatehouse.identity.merge import Policy, merge
from gatehouse.identity.models import status_for
from gatehouse.identity.rescore import SCORED_BARE
from gatehouse.identity.risk import score_row
from gatehouse.identity.schemas import IDENTITY_COLUMNS, MANAGER, IdentityData
from gatehouse.kit.ids import new_id

PLACEHOLDER = "\x00unset"
# What happens to a record that already exists (linked from the source, matched by correlation,
# or stated earlier in the same batch): merged into it, left alone and counted, or an error.
Existing = Literal["update", "skip", "fail"]


@dataclass(frozen=True)
class SourceRecord:
    """What one source says about one person, under the source's own id for them."""

    external_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RecordError:
    """A record that was not applied, and why."""

    external_id: str
    message: str
    index: int | None = None  # the record's position in the batch, so a caller can name its row


@dataclass
class IngestReport:
    """What a batch did (or, on a dry run, would do)."""

    created: int = 0
    linked: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    ambiguous: int = 0
    conflicts: int = 0
    errors: list[RecordError] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # external id → identity id

    def counts(self) -> dict[str, int]:
        """The counters, for run records and audit entries."""
        return {
            "created": self.created,
            "linked": self.linked,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "ambiguous": self.ambiguous,
            "conflicts": self.conflicts,
            "errors": len(self.errors),
        }


@dataclass
class _Plan:
    """The writes a batch needs, gathered before any is made."""

    tenant: str
    source: str
    actor: str
    now: datetime
    run_id: str | None
    creates: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → row
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → row
    befores: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → snapshot
    links: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # ids whose provenance alone moved
    creates_last: str = ""
    rescore: dict[str, str] | None = None  # set: scores are left to the caller, ids added here
    refs: dict[str, str] = field(default_factory=dict)  # external id → manager reference stated
    ref_updates: list[dict[str, Any]] = field(default_factory=list)  # links whose reference moved


def _validate(record: SourceRecord) -> dict[str, Any]:
    """The record's fields, typed and checked; only the fields it states (not `manager`)."""
    data = record.data
    if MANAGER in data:
        data = {k: v for k, v in data.items() if k != MANAGER}
    unknown = set(data) - set(IDENTITY_COLUMNS) - {"attributes"}
    if unknown:
        raise ValueError(f"unknown identity fields {sorted(unknown)}")
    named = {**data, "user_name": data.get("user_name") or PLACEHOLDER}
    checked = IdentityData.model_validate(named)
    stated = checked.model_dump(exclude_unset=True)
    if stated.get("user_name") == PLACEHOLDER:
        del stated["user_name"]
    return stated


def manager_ref(record: SourceRecord) -> str | None:
    """The manager reference a record states: the source's id, "" for none, None unstated."""
    if MANAGER not in record.data:
        return None
    ref = record.data[MANAGER]
    return "" if ref is None else str(ref).strip()


def error_text(exc: Exception) -> str:
    """A validation error as one line naming each field."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
    return str(exc)


def repeated(report: IngestReport, existing: Existing, ref: str, index: int) -> bool:
    """Whether a record stated again in one batch applies too (update); else skipped or refused."""
    if existing == "update":
        return True
    if existing == "skip":
        report.skipped += 1
    else:
        report.errors.append(
            RecordError(ref, "appears more than once, and duplicates are set to fail", index)
        )
    return False


def leave_existing(
    report: IngestReport, existing: Existing, ref: str, index: int | None, how: str
) -> None:
    """Count a record that already exists as skipped, or refuse it when duplicates fail."""
    if existing == "skip":
        report.skipped += 1
    else:
        report.errors.append(
            RecordError(ref, f"already exists ({how}), and duplicates are set to fail", index)
        )


async def ingest_identities(
    session: AsyncSession,
    actor: Actor,
    source: str,
    records: Sequence[SourceRecord],
    policy: Policy,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    existing: Existing = "update",
    rescore: dict[str, str] | None = None,
) -> IngestReport:
    """Apply a batch of one source's records to the store.

    With `rescore`, changed identities are not scored here but added to it (id → "identity")
    for the caller to score once later, as a sync does at the end of a run; created ones are
    scored as members of no group and added as SCORED_BARE (rescored if they join a group).

    `existing` decides what happens to a record the store already has (linked from `source` or
    matched by correlation, including a record stated earlier in the batch): merged ("update"),
    left alone and counted as skipped ("skip": a correlation match is still linked), or
    reported as an error ("fail").
    """
    report = IngestReport()
    valid: dict[str, dict[str, Any]] = {}
    where: dict[str, int] = {}
    refs: dict[str, str] = {}
    for index, record in enumerate(records):
        ext = record.external_id
        try:
            data = _validate(record)
        except (ValidationError, ValueError) as exc:
            report.errors.append(RecordError(ext, error_text(exc), index))
            continue
        if ext in valid and not repeated(report, existing, ext, index):
            continue
        valid[ext], where[ext] = data, index  # with "update", the later statement wins
        if (ref := manager_ref(record)) is not None:
            refs[ext] = ref
    if not valid:
        return report
    tenant = actor.tenant_id
    plan = _Plan(tenant, source, actor.actor, datetime.now(UTC), run_id, rescore=rescore)
    plan.refs = refs
    linked = await db.source_links(session, db.LINKS, "identity_id", tenant, source, valid)
    held = await manager_refs(session, tenant, source, [e for e in refs if e in linked])
    matches = await db.rule_matches(
        session, tenant, policy.rules, [d for e, d in valid.items() if e not in linked]
    )
    current = await db.identity_rows(session, tenant, {*linked.values(), *matches.all_ids()})
    taken = await db.taken_user_names(session, tenant, _user_name_keys(valid, source))
    pending: dict[str, dict[str, str]] = {rule: {} for rule in policy.rules}
    for ext, data in valid.items():
        ident = linked.get(ext)
        if ident is not None and existing != "update":
            leave_existing(report, existing, ext, where[ext], f"linked from {source}")
            report.ids[ext] = ident
            continue
        if ident is None:
            found, ambiguous = matches.find(policy.rules, data, pending)
            if ambiguous:
                report.ambiguous += 1
                matched = matches.candidates(policy.rules, data, pending)
                plan.conflicts.append(_ambiguous(plan, ext, data, matched))
                continue
            if found is None:
                error = _create(plan, ext, data, taken, pending, policy.rules)
                if error:
                    report.errors.append(RecordError(ext, error, where[ext]))
                else:
                    report.created += 1
                    report.ids[ext] = plan.creates_last
                continue
            if existing == "fail":
                how = "another record of this batch is the same person"
                if found not in plan.creates:
                    how = "an identity matched by correlation"
                leave_existing(report, existing, ext, where[ext], how)
                continue
            ident = found
            plan.links.append(_link(plan, ext, ident))
            report.ids[ext] = ident
            if existing == "skip":
                report.skipped += 1
                continue
            report.linked += 1
        report.ids[ext] = ident
        if ext in linked and ext in refs and held.get(ext) != refs[ext]:
            plan.ref_updates.append(ref_row(tenant, source, ext, refs[ext]))
        outcome = _update(plan, ident, ext, data, current, policy, taken)
        if outcome == "error":
            report.errors.append(
                RecordError(ext, "userName is already taken in this tenant", where[ext])
            )
        elif outcome == "unchanged" and ext in linked:
            report.unchanged += 1
        elif outcome == "updated" and ext in linked:
            report.updated += 1
    report.conflicts = len(plan.conflicts)
    if dry_run:
        return report
    await _write(session, plan)
    if run_id:
        # New links carry the run already; links made before it need marking, and so do the
        # records that failed validation: the source still has them, they must not be deleted.
        seen = [*linked, *(e.external_id for e in report.errors)]
        await db.mark_seen(session, db.LINKS, tenant, source, seen, run_id)
    await audit.record(
        session,
        actor,
        "identity.ingested",
        "source",
        source,
        after={"records": len(records), **report.counts()},
    )
    return report


def _user_name_keys(valid: dict[str, dict[str, Any]], source: str) -> set[str]:
    return {_user_name(ext, d, source).lower() for ext, d in valid.items()}


def _user_name(ext: str, data: dict[str, Any], source: str) -> str:
    return str(data.get("user_name") or data.get("email") or f"{source}:{ext}").strip()


def _create(
    plan: _Plan,
    ext: str,
    data: dict[str, Any],
    taken: dict[str, str],
    pending: dict[str, dict[str, str]],
    rules: tuple[str, ...],
) -> str | None:
    """Stage a new identity; an error text when its userName is taken."""
    user_name = _user_name(ext, data, plan.source)
    key = user_name.lower()
    if key in taken:
        return "userName is already taken in this tenant"
    ident = new_id()
    taken[key] = ident
    row = db.new_identity_row(plan.tenant, ident, ext, user_name, data, plan.source, plan.now)
    _score(row, [], plan.now)  # in no group yet; a caller's rescore adds what groups change
    if plan.rescore is not None:
        plan.rescore[ident] = SCORED_BARE
    plan.creates[ident] = row
    plan.creates_last = ident
    plan.links.append(_link(plan, ext, ident))
    for rule in rules:
        value = db.rule_value(rule, data if rule != "user_name" else {"user_name": user_name})
        if value is not None:
            pending[rule].setdefault(value, ident)
    return None


def _update(
    plan: _Plan,
    ident: str,
    ext: str,
    data: dict[str, Any],
    current: dict[str, dict[str, Any]],
    policy: Policy,
    taken: dict[str, str],
) -> str:
    """Merge into an existing or staged identity: "updated", "unchanged" or "error"."""
    row = plan.creates.get(ident) or plan.updates.get(ident) or current[ident]
    merged = merge(row, row.get("provenance") or {}, policy, plan.source, data)
    plan.conflicts.extend(
        _conflict(plan, ident, ext, lost.attribute, lost.offered, lost.kept_source, lost.kept)
        for lost in merged.losers
    )
    changes = merged.changes
    restoring = row.get("status") == "deleted"
    if not changes and not merged.provenance_changed and not restoring:
        return "unchanged"
    if ident in plan.creates:
        row.update(changes)
        row["provenance"] = merged.provenance
        return "updated"
    # A restored identity takes its userName back (a delete freed it).
    new_key = str(row["user_name"]).lower() if restoring else None
    if new_key is not None and taken.get(new_key, ident) != ident:
        return "error"
    staged = plan.updates.get(ident)
    if staged is None:
        plan.befores[ident] = db.snapshot(row)
        staged = plan.updates[ident] = dict(row)
    staged.update(changes)
    staged["provenance"] = merged.provenance
    if new_key is not None:
        taken[new_key] = ident
        staged["user_name_key"] = new_key
    if restoring:
        staged["deleted_at"] = None
        staged["active"] = data.get("active", True)
    if changes or restoring:
        staged["status"] = status_for(staged["active"])
        return "updated"
    plan.touched.add(ident)
    return "unchanged"


def _link(plan: _Plan, ext: str, ident: str) -> dict[str, Any]:
    return db.link_row(
        plan.tenant,
        plan.source,
        ext,
        plan.now,
        plan.run_id,
        identity_id=ident,
        manager_ref=plan.refs.get(ext),
    )


def _score(row: dict[str, Any], group_names: list[str], now: datetime) -> None:
    row["risk_score"], row["risk_factors"] = score_row(row, group_names, now)


def _ambiguous(plan: _Plan, ext: str, data: dict[str, Any], matched: list[str]) -> dict[str, Any]:
    return conflict_row(
        plan.tenant, "ambiguous", None, "", plan.source, ext, data, "", None, matched
    )


def _conflict(
    plan: _Plan, ident: str, ext: str, attribute: str, offered: Any, kept_source: str, kept: Any
) -> dict[str, Any]:
    return conflict_row(
        plan.tenant, "precedence", ident, attribute, plan.source, ext, offered, kept_source, kept
    )


async def _write(session: AsyncSession, plan: _Plan) -> None:
    """Every staged write, in set-wise statements."""
    now = plan.now
    changed = [r for i, r in plan.updates.items() if i not in plan.touched]
    risk_before = {row["id"]: row["risk_score"] for row in changed}
    for row in changed:
        row["version"] += 1
        row["updated_at"] = now
    if plan.rescore is not None:
        plan.rescore.update(dict.fromkeys(risk_before, "identity"))
    elif changed:
        names = await db.group_names(session, plan.tenant, [r["id"] for r in changed])
        for row in changed:
            _score(row, names.get(row["id"], []), now)
    await db.insert_rows(session, db.IDENTITIES, list(plan.creates.values()))
    await db.update_identities(session, list(plan.updates.values()))
    await db.insert_rows(session, db.LINKS, plan.links)
    await update_many(session, db.LINKS, ("tenant_id", "source", "external_id"), plan.ref_updates)
    await insert_conflicts(session, plan.tenant, plan.conflicts)
    await db.record_identity_changes(
        session,
        plan.tenant,
        plan.actor,
        plan.source,
        now,
        [(None, row) for row in plan.creates.values()]
        + [(plan.befores[row["id"]], row) for row in changed],
        risk_before,
    )
