"""No secret appears in the database file, a PostgreSQL dump, an API response or a log line."""

import io
import shutil
import subprocess
from pathlib import Path

from gatehouse.config import Settings
from gatehouse.tenants.models import PLATFORM
from tests.conftest import BOTH, started

VALUE = "Credential-Value-7f3a9c"


def stored_bytes(settings: Settings, backend: str) -> bytes:
    """Everything the database holds on disk or in a dump."""
    if backend == "sqlite":
        home = Path(settings.effective_database_url.split(":///", 1)[1]).parent
        return b"".join(p.read_bytes() for p in home.glob("gatehouse.db*"))
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to check the PostgreSQL dump"
    url = settings.effective_database_url.replace("postgresql+asyncpg://", "postgresql://")
    return subprocess.run([pg_dump, "--data-only", url], check=True, capture_output=True).stdout


@BOTH
async def test_no_secret_anywhere(settings: Settings, backend: str, log_lines: io.StringIO) -> None:
    """Drive the API through every secret-bearing path, then search everything for secrets."""
    responses: list[str] = []
    secrets: list[str] = [VALUE]
    async with started(settings) as h:
        platform = await h.token(PLATFORM, "platform:admin")
        secrets.append(platform)
        c = h.client

        async def call(method: str, path: str, token: str, **kw: object) -> dict:
            resp = await c.request(method, path, headers=h.auth(token), **kw)
            body = resp.json() if resp.content else {}
            shown = (
                {k: v for k, v in body.items() if k != "token"} if isinstance(body, dict) else body
            )
            responses.append(str(dict(resp.headers)) + str(shown))
            return body

        await call("POST", "/v1/tenants", platform, json={"id": "acme", "name": "Acme"})
        admin = await h.token("acme", "admin:*")
        secrets.append(admin)
        made = await call(
            "POST", "/v1/integration/tokens", admin, json={"name": "n", "scopes": ["audit:read"]}
        )
        secrets.append(made["token"])
        await call("PUT", "/v1/secrets/db", admin, json={"value": VALUE, "password": VALUE})
        await call("PUT", "/v1/secrets/db", admin, json={"value": VALUE})
        await call("GET", "/v1/secrets", admin)
        await call("GET", "/v1/secrets/db", admin)
        await call("GET", "/v1/integration/tokens", admin)
        opa = {"url": "https://opa.example.com", "bearer_token": VALUE}
        routing = "/v1/tenants/acme/decision-config"
        await call("PUT", routing, admin, json={"opa_endpoints": [opa]})
        await call("PATCH", routing, admin, json={"opa_endpoints": [opa], "mode": "nope"})
        await call("GET", routing, admin)
        await call("GET", "/pip/audit/logs", admin)
        await call("GET", "/v1/integration/tokens", made["token"])
        await call("DELETE", f"/v1/integration/tokens/{made['id']}", admin)
        await call("GET", "/v1/integration/tokens", made["token"])
        await call("GET", "/v1/integration/tokens", made["token"][:-1] + "x")
        await h.flush_usage()
        await call("GET", "/v1/integration/tokens/usage-logs", admin)
        opal = {"datasource_token": VALUE, "fetch_token": VALUE, "server_url": "http://o.test"}
        await call("PUT", "/pip/opal/settings", admin, json=opal)
        await call("GET", "/pip/opal/settings", admin)
        await call("GET", "/pip/opal/config", admin)
        entry = {"url": "http://g.test", "config": {"headers": {"Authorization": VALUE}}}
        report = {"update_id": "u", "reports": [{"entry": entry, "fetched": True, "saved": True}]}
        await call("POST", "/opal/reports/acme", admin, json=report)
        await call("GET", "/pip/opal/status", admin)
        hook = {"url": "https://hooks.example.com/in", "headers": {"Authorization": VALUE}}
        endpoint = await call("POST", "/v1/integration/webhooks", admin, json=hook)
        await call("PATCH", f"/v1/integration/webhooks/{endpoint['id']}", admin, json=hook)
        await call("GET", "/v1/integration/webhooks", admin)
        secrets.append(settings.key_file.read_text().strip())
    stored = stored_bytes(settings, backend)
    logs = log_lines.getvalue()
    assert "request" in logs
    assert "acme" in logs
    for secret in secrets:
        assert secret.encode() not in stored
        assert secret not in logs
        for text in responses:
            assert secret not in text
