"""The scope catalog and how scopes imply one another."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """One permission a token can carry."""

    name: str
    description: str
    platform: bool = False


CATALOG: tuple[Scope, ...] = (
    Scope("admin:*", "Everything within the tenant."),
    Scope("tokens:read", "List API tokens and their usage."),
    Scope("tokens:write", "Create, change and revoke API tokens."),
    Scope("audit:read", "Read the audit log."),
    Scope("secrets:read", "List secrets (never their values)."),
    Scope("secrets:write", "Create, replace and delete secrets."),
    Scope("identities:read", "Read identities, groups and resources."),
    Scope("identities:write", "Change identities, groups and resources."),
    Scope("scim:read", "Read through the SCIM API."),
    Scope("scim:write", "Provision through the SCIM API."),
    Scope("connections:read", "Read connections, schemas and sync runs."),
    Scope("connections:write", "Create, change, test and sync connections."),
    Scope("bundles:read", "Download policy bundles and data documents."),
    Scope("bundles:write", "Configure data documents and manage bundle signing keys."),
    Scope("opal:read", "Fetch OPAL data documents, send OPAL clients' update reports, see status."),
    Scope("opal:write", "Configure OPAL publishing and publish to the OPAL server."),
    Scope("decisions:evaluate", "Ask for authorization decisions."),
    Scope("decisions:read", "Search and export the decision log."),
    Scope("data:read", "Read data documents through OPA's Data API (not only decisions)."),
    Scope("fleet:report", "Send OPA status reports and decision logs (an OPA's token)."),
    Scope("fleet:read", "See the OPA fleet's status: revisions, lag, errors."),
    Scope("policies:read", "Read policies."),
    Scope("policies:write", "Change policies."),
    Scope("webhooks:read", "Read webhook endpoints and deliveries."),
    Scope("webhooks:write", "Manage webhook endpoints."),
    Scope("platform:admin", "Manage tenants (platform tokens only).", platform=True),
    Scope("platform:metrics", "Scrape Prometheus metrics at /metrics (platform).", platform=True),
)
NAMES = frozenset(scope.name for scope in CATALOG)
PLATFORM_SCOPES = frozenset(s.name for s in CATALOG if s.platform)
# What a platform token may hold: platform scopes, and reading the platform's own audit chain.
PLATFORM_GRANTABLE = PLATFORM_SCOPES | {"audit:read"}
WILDCARDS = frozenset(f"{s.name.split(':')[0]}:*" for s in CATALOG if not s.platform)


def is_known(scope: str) -> bool:
    """Whether a scope is in the catalog or is a resource wildcard such as `tokens:*`."""
    return scope in NAMES or scope in WILDCARDS


def grants(held: frozenset[str] | set[str], wanted: str) -> bool:
    """Whether any held scope grants `wanted`.

    `admin:*` grants every tenant scope; `res:*` grants every `res:` scope; `res:write`
    grants `res:read`. Platform scopes are only granted by name.
    """
    if wanted in held:
        return True
    if wanted.startswith("platform:"):
        return False
    if "admin:*" in held:
        return True
    resource, _, action = wanted.partition(":")
    if f"{resource}:*" in held:
        return True
    return action == "read" and f"{resource}:write" in held


def covers(held: frozenset[str] | set[str], wanted: list[str]) -> bool:
    """Whether held scopes grant every wanted scope (wildcards only by an equal or wider one)."""
    for scope in wanted:
        if scope.endswith(":*"):
            if scope not in held and "admin:*" not in held:
                return False
        elif not grants(held, scope):
            return False
    return True
