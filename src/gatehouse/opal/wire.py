"""What Gatehouse tells OPAL: DataUpdates, and the configuration OPAL servers and clients run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from gatehouse.opal.schemas import OpalSettings

TOKEN_PLACEHOLDER = "<gatehouse token with scope opal:read>"  # noqa: S105 (a placeholder)
DATASOURCE_PLACEHOLDER = "<OPAL datasource token>"
REPORTS_PATH = "/opal/reports/{tenant}"


def topics(settings: OpalSettings, tenant: str) -> list[str]:
    """The entry's topics, `{tenant}` filled in."""
    return [t.replace("{tenant}", tenant) for t in settings.topics]


def dst_path(settings: OpalSettings, root: tuple[str, ...]) -> str:
    """Where OPA keeps the document: the setting, or the document's own root."""
    return settings.dst_path if settings.dst_path is not None else "/" + "/".join(root)


def base_url(settings: OpalSettings, fallback: str) -> str:
    """Gatehouse's URL as OPAL clients reach it, without a trailing slash."""
    return str(settings.fetch_base_url or fallback).rstrip("/")


def data_url(settings: OpalSettings, tenant: str, fallback: str) -> str:
    """The URL of the tenant's complete document."""
    return f"{base_url(settings, fallback)}/opal/pip-data/{tenant}"


def foreign(
    entries: Sequence[tuple[str, Sequence[str]]], settings: OpalSettings, tenant: str, fallback: str
) -> list[dict[str, str]]:
    """Each reported entry (url, topics) that is not the tenant's own document on the tenant's
    own topic: a client that reports it applied another tenant's update."""
    url, own = data_url(settings, tenant, fallback), topics(settings, tenant)
    errors = []
    for index, (entry_url, entry_topics) in enumerate(entries):
        at_home = entry_url == url or entry_url.startswith(url + "/")
        if not at_home or not set(entry_topics) <= set(own):
            message = (
                f"{entry_url} on {list(entry_topics)} is not this tenant's document ({url}) "
                f"on its topic {own}"
            )
            errors.append({"field": f"body.reports.{index}.entry", "message": message})
    return errors


def bearer(token: str) -> dict[str, dict[str, str]]:
    """An HTTP fetcher config carrying a bearer token."""
    return {"headers": {"Authorization": f"Bearer {token}"}}


def entry(
    settings: OpalSettings, tenant: str, root: tuple[str, ...], token: str, fallback: str = ""
) -> dict[str, Any]:
    """The DataSourceEntry pointing OPAL clients at the tenant's complete document."""
    return {
        "url": data_url(settings, tenant, fallback),
        "config": bearer(token),
        "topics": topics(settings, tenant),
        "dst_path": dst_path(settings, root),
        "save_method": settings.save_method.value,
    }


def callbacks(settings: OpalSettings, token: str) -> dict[str, Any]:
    """The update's `callback`: where OPAL clients report having applied it."""
    if settings.callback_url is None:
        return {"callbacks": []}
    config = {
        "method": "post",
        "process_data": False,
        "headers": {"Authorization": f"Bearer {token}", "content-type": "application/json"},
    }
    return {"callbacks": [[str(settings.callback_url), config]]}


def data_update(
    update_id: str,
    settings: OpalSettings,
    tenant: str,
    root: tuple[str, ...],
    token: str,
    reason: str,
) -> dict[str, Any]:
    """The DataUpdate for OPAL's `POST /data/config`."""
    return {
        "id": update_id,
        "entries": [entry(settings, tenant, root, token)],
        "reason": reason,
        "callback": callbacks(settings, token),
    }


def redacted(update: dict[str, Any]) -> dict[str, Any]:
    """A DataUpdate as stored and shown: every Authorization header replaced by a placeholder."""
    text = orjson.dumps(update).decode()
    doc: dict[str, Any] = orjson.loads(text)
    for item in doc.get("entries", []):
        item["config"] = bearer(TOKEN_PLACEHOLDER)
    for pair in doc.get("callback", {}).get("callbacks", []):
        if isinstance(pair, list) and len(pair) == 2:
            pair[1]["headers"]["Authorization"] = f"Bearer {TOKEN_PLACEHOLDER}"
    return doc


def client_config(
    settings: OpalSettings, tenant: str, root: tuple[str, ...], fallback: str
) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    """(server env, client env, data sources) to run OPAL against this tenant, no secrets."""
    sources = {"config": {"entries": [entry(settings, tenant, root, TOKEN_PLACEHOLDER, fallback)]}}
    report_url = str(
        settings.callback_url or base_url(settings, fallback) + REPORTS_PATH.format(tenant=tenant)
    )
    callback_config = {
        "method": "post",
        "process_data": False,
        "headers": {
            "Authorization": f"Bearer {TOKEN_PLACEHOLDER}",
            "content-type": "application/json",
        },
    }
    server = {
        "OPAL_DATA_CONFIG_SOURCES": orjson.dumps(sources).decode(),
        "OPAL_BROADCAST_URI": "<postgres://... or redis://...; omit for a single server process>",
    }
    client = {
        "OPAL_SERVER_URL": str(settings.server_url or "<OPAL server URL>").rstrip("/"),
        "OPAL_DATA_TOPICS": ",".join(topics(settings, tenant)),
        "OPAL_DATA_UPDATER_ENABLED": "true",
        "OPAL_SHOULD_REPORT_ON_DATA_UPDATES": "true",
        "OPAL_DEFAULT_UPDATE_CALLBACKS": orjson.dumps(
            {"callbacks": [[report_url, callback_config]]}
        ).decode(),
        "OPAL_CLIENT_TOKEN": "<OPAL client token, when the OPAL server has auth keys>",
    }
    return server, client, sources
