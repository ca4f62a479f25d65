"""The `ldap` connector: OpenLDAP and Active Directory users, groups and memberships."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any, ClassVar

from gatehouse.connectors.builtin.ldap import discover as discovery
from gatehouse.connectors.builtin.ldap.client import LdapError, SessionFactory
from gatehouse.connectors.builtin.ldap.cursor import Checkpoint
from gatehouse.connectors.builtin.ldap.directory import every, first, opened
from gatehouse.connectors.builtin.ldap.memberships import (
    MANAGER_ID,
    edges,
    has_managers,
    managers,
    member_index,
)
from gatehouse.connectors.builtin.ldap.selection import narrowed
from gatehouse.connectors.builtin.ldap.settings import parse, spec
from gatehouse.connectors.builtin.ldap.streams import STREAMS, Reader, query
from gatehouse.connectors.environment import Environment, current
from gatehouse.connectors.protocol import (
    Batch,
    CheckFailure,
    CheckResult,
    ConnectorError,
    Selection,
    StreamInfo,
    SyncMode,
)

ADVICE = {
    CheckFailure.unreachable: (
        "Check the host name and port, that the server runs and that no firewall blocks "
        "Gatehouse; a server on a private network must be allowed in GATEHOUSE_OUTBOUND_ALLOW."
    ),
    CheckFailure.tls: (
        "Check that the certificate is issued for the host name in the URL, that ca_pem holds "
        "the CA that signed it, and that the port speaks TLS (ldaps:// is usually 636; StartTLS "
        "runs on the plain port, usually 389)."
    ),
    CheckFailure.auth: (
        "Check bind_dn and password (Active Directory also takes user@domain as bind_dn)."
    ),
    CheckFailure.timeout: "The server did not answer in time; try again or raise timeout_seconds.",
}


async def _offers_managers(reader: Reader, selection: Selection | None) -> bool:
    """Whether a users read resolves managers: when the mapping reads `manager_id`, or reads
    every field and some user has a manager (resolving costs a read of every user's id)."""
    if selection is not None and selection.fields:
        return MANAGER_ID in selection.fields
    return await has_managers(reader)


class LdapConnector:
    """Reads users, groups and memberships from an LDAP directory or Active Directory."""

    name: ClassVar[str] = "ldap"
    title: ClassVar[str] = "LDAP / Active Directory"

    def __init__(
        self, env: Environment | None = None, session_factory: SessionFactory | None = None
    ) -> None:
        self.env = current() if env is None else env
        self.factory = session_factory  # None: python-ldap when installed, else ldap3

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """JSON Schema of the configuration; `password` is the secret."""
        return spec()

    async def check(self, config: Mapping[str, Any]) -> CheckResult:
        """Bind for real and search the base DN; the failure says what to fix."""
        try:
            settings = parse(config)
        except ConnectorError as exc:
            return CheckResult.failed(exc.failure, str(exc))
        try:
            async with opened(settings, self.env, self.factory) as reader:
                return await self._probe(reader)
        except LdapError as exc:
            advice = ADVICE.get(exc.failure, "")
            return CheckResult.failed(exc.failure, f"{exc} {advice}".strip())

    async def _probe(self, reader: Reader) -> CheckResult:
        settings = reader.settings
        base = settings.base_dn
        try:
            await asyncio.to_thread(reader.session.search, base, "base", "(objectClass=*)", ["1.1"])
        except LdapError as exc:
            if exc.code != 32:
                raise
            return self._missing_base(reader, exc)
        counts: dict[str, int] = {}
        for stream in ("users", "groups"):
            q = query(settings, stream)
            pages = reader.session.pages(q.base, q.filter, ["1.1"], 5, None)
            try:
                page = await asyncio.to_thread(next, pages, None)
            except LdapError as exc:
                if exc.code == 32:
                    return self._missing_base(reader, exc, q.base)
                raise
            finally:
                await asyncio.to_thread(pages.close)
            counts[stream] = len(page.entries) if page else 0
        details: dict[str, Any] = {
            "backend": reader.session.backend,
            "tls": settings.tls,
            "server_side_sort": reader.sortable,
            "vendor": first(reader.root_dse, "vendorName")
            or ("Active Directory" if first(reader.root_dse, "forestFunctionality") else None),
            "sample_users": counts["users"],
            "sample_groups": counts["groups"],
        }
        who = settings.bind_dn or "anonymous"
        message = f"Bound as {who} and searched {base}"
        if not counts["users"]:
            message += (
                "; no entry matched the user filter: check user_object_classes and user_filter, "
                "or that this account may read the users"
            )
        return CheckResult.success(message, **details)

    @staticmethod
    def _missing_base(reader: Reader, exc: LdapError, where: str | None = None) -> CheckResult:
        where = where or reader.settings.base_dn
        contexts = every(reader.root_dse, "namingContexts")
        low = where.lower().replace(" ", "")
        inside = [c for c in contexts if low.endswith(c.lower().replace(" ", ""))]
        if exc.matched or not inside:
            near = f"; the nearest existing entry is {exc.matched}" if exc.matched else ""
            known = f"; the server holds {', '.join(contexts)}" if contexts else ""
            return CheckResult.failed(
                CheckFailure.config, f"Base DN {where} does not exist{near}{known}. Fix base_dn."
            )
        who = reader.settings.bind_dn or "an anonymous bind"
        return CheckResult.failed(
            CheckFailure.permission,
            f"{where} is in {inside[0]} but {who} cannot see it: the account has no read access "
            "there (grant it search and read on the subtree) or the DN is misspelt.",
        )

    async def discover(self, config: Mapping[str, Any]) -> list[StreamInfo]:
        """users, groups and memberships with fields, keys and cursor candidates."""
        settings = parse(config)
        async with opened(settings, self.env, self.factory) as reader:
            return await discovery.streams(reader)

    async def read(
        self,
        config: Mapping[str, Any],
        stream: str,
        mode: SyncMode,
        state: Mapping[str, Any] | None,
        selection: Selection | None = None,
    ) -> AsyncIterator[Batch]:
        """Records of a stream, a batch per page, each with the checkpoint after it."""
        settings = parse(config)
        if stream not in STREAMS:
            raise ConnectorError(
                CheckFailure.config, f"no stream {stream!r}; LDAP offers {', '.join(STREAMS)}"
            )
        checkpoint = Checkpoint.load(state)
        async with opened(settings, self.env, self.factory) as reader:
            if selection is not None:
                reader.settings = narrowed(reader, stream, selection)
            expand = None
            if stream == "memberships":
                expand = edges(reader, await member_index(reader))
            elif stream == "users" and await _offers_managers(reader, selection):
                expand = managers(reader, await member_index(reader, (("users", "identity"),)))
            # closed here, before the session is: a paged search left early is ended on the server
            records = reader.records(stream, mode, checkpoint, expand)
            async with aclosing(records) as batches:
                async for batch in batches:
                    yield batch
