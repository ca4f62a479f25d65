"""Risk scores: a sum of named factors from pluggable rules, capped at 100, recomputed on change.

Built-in rules (see docs/identity.md):
- `stale_account`: active, and no login or change for 90 days: +25
- `admin_without_mfa`: in an admin group (name contains "admin", nested groups count) or
  flagged `attributes.admin`, without `attributes.mfa_enrolled` true: +40
- `many_groups`: in more than 20 groups (nested count): +15, more than 50: +25
- `no_manager`: an active employee (has an employee number) without a manager: +5

More rules come from the `gatehouse.risk_rules` entry-point group: each is a callable taking a
`RiskContext` and returning a `RiskFactor` or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any, cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gatehouse.events.service import emit
from gatehouse.identity.graph import groups_of
from gatehouse.identity.models import Identity

log = structlog.get_logger("gatehouse.risk")
STALE_AFTER = timedelta(days=90)
ENTRY_POINTS = "gatehouse.risk_rules"


@dataclass(frozen=True)
class RiskContext:
    """What a rule may look at."""

    identity: Identity
    group_names: list[str]
    now: datetime


@dataclass(frozen=True)
class RiskFactor:
    """One reason for risk and how much it adds."""

    name: str
    points: int
    detail: str


Rule = Callable[[RiskContext], RiskFactor | None]


def stale_account(ctx: RiskContext) -> RiskFactor | None:
    """Active accounts with no login or change for 90 days."""
    ident = ctx.identity
    last = _parse(ident.attributes.get("last_login")) or ident.updated_at
    if ident.active and last is not None and ctx.now - last > STALE_AFTER:
        return RiskFactor("stale_account", 25, f"no activity since {last.date().isoformat()}")
    return None


def admin_without_mfa(ctx: RiskContext) -> RiskFactor | None:
    """Administrators without multi-factor authentication."""
    admin = bool(ctx.identity.attributes.get("admin")) or any(
        "admin" in name.lower() for name in ctx.group_names
    )
    if admin and ctx.identity.attributes.get("mfa_enrolled") is not True:
        return RiskFactor("admin_without_mfa", 40, "administrator without MFA enrolled")
    return None


def many_groups(ctx: RiskContext) -> RiskFactor | None:
    """Unusually broad access through many groups."""
    count = len(ctx.group_names)
    if count > 50:
        return RiskFactor("many_groups", 25, f"member of {count} groups")
    if count > 20:
        return RiskFactor("many_groups", 15, f"member of {count} groups")
    return None


def no_manager(ctx: RiskContext) -> RiskFactor | None:
    """Employees nobody is accountable for."""
    ident = ctx.identity
    if ident.active and ident.employee_number and not ident.manager_id:
        return RiskFactor("no_manager", 5, "employee without a manager")
    return None


BUILT_IN: tuple[Rule, ...] = (stale_account, admin_without_mfa, many_groups, no_manager)


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def plugin_rules() -> tuple[Rule, ...]:
    """Rules installed by other packages under the `gatehouse.risk_rules` entry points."""
    found: list[Rule] = []
    for point in entry_points(group=ENTRY_POINTS):
        try:
            found.append(point.load())
        except Exception:
            log.exception("risk rule failed to load", rule=point.name)
    return tuple(found)


RULES: tuple[Rule, ...] = BUILT_IN + plugin_rules()


def score(ctx: RiskContext, rules: tuple[Rule, ...] = RULES) -> tuple[int, list[RiskFactor]]:
    """The capped total and the factors behind it."""
    factors = [factor for rule in rules if (factor := rule(ctx)) is not None]
    return min(100, sum(f.points for f in factors)), factors


async def recompute(session: AsyncSession, identity: Identity) -> bool:
    """Refresh one identity's score and factors."""
    names = [g.display_name for g in await groups_of(session, identity.tenant_id, identity.id)]
    return _apply(session, identity, names, datetime.now(UTC))


def score_new(session: AsyncSession, identity: Identity) -> bool:
    """Score an identity created a moment ago: it is in no group yet, so no query is needed."""
    return _apply(session, identity, [], datetime.now(UTC))


def score_row(
    row: dict[str, Any], group_names: list[str], now: datetime
) -> tuple[int, list[dict[str, Any]]]:
    """The score and listed factors of an identity row (batch writes)."""
    # Attribute access on a namespace is what rules do; it costs less than a mapping view.
    view = cast(Identity, SimpleNamespace(**row))
    total, factors = score(RiskContext(view, group_names, now))
    return total, _listed(factors)


def _listed(factors: list[RiskFactor]) -> list[dict[str, Any]]:
    return [{"name": f.name, "points": f.points, "detail": f.detail} for f in factors]


def _apply(session: AsyncSession, identity: Identity, names: list[str], now: datetime) -> bool:
    """Store a new score; emits `identity.risk_changed` when it moves."""
    total, factors = score(RiskContext(identity, names, now))
    listed = _listed(factors)
    if total == identity.risk_score and listed == (identity.risk_factors or []):
        return False
    before = identity.risk_score
    identity.risk_score, identity.risk_factors = total, listed
    emit(
        session,
        identity.tenant_id,
        "identity.risk_changed",
        "identity",
        identity.id,
        {"id": identity.id, "before": before, "after": total, "factors": listed},
    )
    return True
