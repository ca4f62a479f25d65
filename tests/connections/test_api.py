"""The /pip/connections API on SQLite and PostgreSQL stores, against a real PostgreSQL source."""

import io
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gatehouse.config import Settings
from gatehouse.secrets import service as secrets
from tests.conftest import BOTH, Harness, started

PASSWORD = "Pg-Connection-Secret-93c1"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
async def app(settings: Settings, pg_source_db: str) -> AsyncIterator[Harness]:
    """An app that may reach loopback, with a `users` table in the source database."""
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=pg_source_db)
    await conn.execute(
        "DROP TABLE IF EXISTS users; CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL,"
        " ssn text, updated_at timestamptz NOT NULL DEFAULT now());"
        "INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com')"
    )
    await conn.close()
    allowed = settings.model_copy(update={"outbound_allow": [ipaddress.ip_network("127.0.0.0/8")]})
    async with started(allowed) as h:
        yield h


def pg_config(database: str, **extra: Any) -> dict[str, Any]:
    """A PostgreSQL source configuration with a password."""
    return {
        "host": "127.0.0.1",
        "database": database,
        "user": "postgres",
        "password": PASSWORD,
        "tls_mode": "disable",
        **extra,
    }


async def create(h: Harness, auth: dict, database: str, name: str = "hr") -> dict:
    """Create a connection and return its body."""
    resp = await h.client.post(
        "/pip/connections",
        json={"name": name, "type": "postgresql", "config": pg_config(database)},
        headers=auth,
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


@BOTH
async def test_lifecycle_never_returns_secrets(app: Harness, pg_source_db: str) -> None:
    """Create, read, list, update (secret kept), delete; the password never comes back."""
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    c = app.client
    made = await create(app, auth, pg_source_db)
    assert made["secrets"] == {"password": "set"}
    assert made["config"]["port"] == 5432 and made["config"]["schema"] == "public"
    cid = made["id"]
    seen = [made, (await c.get(f"/pip/connections/{cid}", headers=auth)).json()]
    listed = (await c.get("/pip/connections", headers=auth)).json()
    assert [x["id"] for x in listed["items"]] == [cid]
    config = dict(made["config"], database=pg_source_db)
    updated = await c.put(
        f"/pip/connections/{cid}", json={"name": "people", "config": config}, headers=auth
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["secrets"] == {"password": "set"}
    health = await c.get(f"/pip/connections/{cid}/health", headers=auth)
    assert health.json()["ok"], health.text
    cleared = await c.put(
        f"/pip/connections/{cid}", json={"config": {**config, "password": None}}, headers=auth
    )
    assert cleared.json()["secrets"] == {"password": "not set"}
    for body in [*seen, listed, updated.json(), health.json()]:
        assert PASSWORD not in str(body)
    assert (await c.delete(f"/pip/connections/{cid}", headers=auth)).status_code == 204
    assert (await c.get(f"/pip/connections/{cid}", headers=auth)).status_code == 404
    again = await create(app, auth, pg_source_db)  # the name is free again
    assert again["id"] != cid


@BOTH
async def test_bad_input_is_refused_clearly(app: Harness, pg_source_db: str) -> None:
    """Unknown types, spec violations, duplicates, bad JSON: problem+json naming the fix."""
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    c = app.client
    unknown = await c.post(
        "/pip/connections", json={"name": "x", "type": "oracle", "config": {}}, headers=auth
    )
    assert unknown.status_code == 422
    assert "installed: file, ldap, mysql, postgresql, sqlite" in unknown.json()["detail"]
    bad = await c.post(
        "/pip/connections",
        json={
            "name": "x",
            "type": "postgresql",
            "config": {
                "host": "127.0.0.1",
                "port": "five",
                "user": "u",
                "password": 7 * [PASSWORD],
                "tls_mode": "sometimes",
                "colour": "red",
            },
        },
        headers=auth,
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"config", "config.port", "config.tls_mode", "config.password"} <= fields
    assert PASSWORD not in bad.text
    await create(app, auth, pg_source_db)
    dup = await c.post(
        "/pip/connections",
        json={"name": "hr", "type": "postgresql", "config": pg_config(pg_source_db)},
        headers=auth,
    )
    assert dup.status_code == 409
    broken = await c.post(
        "/pip/connections",
        content=b"{not json",
        headers={**auth, "content-type": "application/json"},
    )
    assert broken.status_code == 400
    named = await c.post(
        "/pip/connections", json={"name": "../etc", "type": "sqlite", "config": {}}, headers=auth
    )
    assert named.status_code == 422


@BOTH
async def test_changing_the_host_requires_the_secret_again(app: Harness, pg_source_db: str) -> None:
    """Stored credentials are never sent to a new destination without being re-entered."""
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    made = await create(app, auth, pg_source_db)
    moved = {**made["config"], "host": "127.0.0.2"}
    refused = await app.client.put(
        f"/pip/connections/{made['id']}", json={"config": moved}, headers=auth
    )
    assert refused.status_code == 422
    assert "password must be sent again" in refused.text
    accepted = await app.client.put(
        f"/pip/connections/{made['id']}",
        json={"config": {**moved, "password": "another"}},
        headers=auth,
    )
    assert accepted.status_code == 200


async def test_changing_ldap_tls_trust_requires_the_password_again(app: Harness) -> None:
    """Turning certificate checks off, trusting another CA or dropping StartTLS changes who
    can read the bind password: it must be sent again (or cleared) as for a new host."""
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    config = {
        "urls": ["ldap://ldap.example.com"],
        "start_tls": True,
        "base_dn": "dc=example,dc=com",
        "bind_dn": "cn=reader,dc=example,dc=com",
        "password": "Ldap-Bind-Secret-51",
    }
    made = await app.client.post(
        "/pip/connections",
        json={"name": "dir", "type": "ldap", "config": config},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    path = f"/pip/connections/{made.json()['id']}"
    kept = {k: v for k, v in config.items() if k != "password"}
    for change in ({"tls_verify": "none"}, {"ca_pem": PEM}, {"start_tls": False}):
        refused = await app.client.put(path, json={"config": {**kept, **change}}, headers=auth)
        assert refused.status_code == 422, (change, refused.text)
        assert "password must be sent again" in refused.text
    cleared = {**kept, "tls_verify": "none", "password": None}
    unchanged = await app.client.put(path, json={"config": kept}, headers=auth)
    assert unchanged.status_code == 200 and unchanged.json()["secrets"]["password"] == "set"
    dropped = await app.client.put(path, json={"config": cleared}, headers=auth)
    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["secrets"]["password"] == "not set"


@BOTH
async def test_test_health_schema_and_mapping(app: Harness, pg_source_db: str) -> None:
    """Test an unsaved config, check a saved one, discover, map and override sensitivity."""
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    c = app.client
    ok = await c.post(
        "/pip/connections/test",
        json={"type": "postgresql", "config": pg_config(pg_source_db)},
        headers=auth,
    )
    assert ok.status_code == 200 and ok.json()["ok"], ok.text
    wrong = await c.post(
        "/pip/connections/test",
        json={"type": "postgresql", "config": pg_config("nope_db")},
        headers=auth,
    )
    assert (wrong.json()["ok"], wrong.json()["failure"]) == (False, "config")
    assert wrong.json()["hint"]
    made = await create(app, auth, pg_source_db)
    cid = made["id"]
    health = (await c.get(f"/pip/connections/{cid}/health", headers=auth)).json()
    assert health["ok"] and health["connection_id"] == cid
    shown = (await c.get(f"/pip/connections/{cid}", headers=auth)).json()
    assert shown["last_check"]["ok"] is True
    schema = await c.get(f"/pip/connections/{cid}/schema", headers=auth)
    assert schema.status_code == 200, schema.text
    users = {s["name"]: s for s in schema.json()["streams"]}["users"]
    assert users["kind"] == "identity" and users["primary_key"] == ["id"]
    fields = {f["name"]: f for f in users["fields"]}
    assert fields["ssn"]["sensitivity"] == "restricted"
    mapping = {
        "streams": {
            "users": {
                "fields": ["id", "email"],
                "sensitivity": {"email": "restricted"},
                "sync_mode": "incremental",
                "cursor_field": "updated_at",
                "transform": {
                    "kind": "identity",
                    "external_id": "id",
                    "fields": {"user_name": {"from": "email", "steps": ["email"]}},
                },
            }
        }
    }
    mapped = await c.put(f"/pip/connections/{cid}/mapping", json=mapping, headers=auth)
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["mapping"]["streams"]["users"]["transform"]["kind"] == "identity"
    cached = await c.get(f"/pip/connections/{cid}/schema?refresh=false", headers=auth)
    email = next(f for f in cached.json()["streams"][0]["fields"] if f["name"] == "email")
    assert email["sensitivity"] == "restricted"
    bad = {
        "streams": {
            "users": {
                "fields": ["id", "salary"],
                "sync_mode": "incremental",
                "cursor_field": "nope",
            },
            "payroll": {},
        }
    }
    refused = await c.put(f"/pip/connections/{cid}/mapping", json=bad, headers=auth)
    assert refused.status_code == 422
    where = {e["field"] for e in refused.json()["errors"]}
    assert where == {"streams.users.fields", "streams.users.cursor_field", "streams.payroll"}
    wrong_transform = {
        "streams": {
            "users": {
                "transform": {
                    "kind": "identity",
                    "fields": {"user_name": {"from": "email", "steps": ["bogus"]}},
                }
            }
        }
    }
    refused = await c.put(f"/pip/connections/{cid}/mapping", json=wrong_transform, headers=auth)
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {
        "streams.users.transform.external_id",
        "streams.users.transform.fields.user_name.steps[0]",
    }
    typo = {
        "streams": {
            "users": {
                "fields": ["id", "email"],
                "transform": {
                    "kind": "identity",
                    "external_id": "id",
                    "fields": {"user_name": "emial"},
                },
            }
        }
    }
    refused = await c.put(f"/pip/connections/{cid}/mapping", json=typo, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "field": "streams.users.transform",
            "message": "the transform reads 'emial', which the stream does not have",
        }
    ]
    not_object = {"streams": {"users": {"transform": ["not", "an", "object"]}}}
    assert (
        await c.put(f"/pip/connections/{cid}/mapping", json=not_object, headers=auth)
    ).status_code == 422
    actions = [
        e["action"]
        for e in (
            await c.get("/pip/audit/logs", headers=app.auth(await app.token("acme", "audit:read")))
        ).json()["items"]
    ]
    assert "connection.credentials.read" in actions
    assert "connection.mapping" in actions
    assert "connection.test" in actions


@BOTH
async def test_tenants_are_isolated_and_scopes_enforced(app: Harness, pg_source_db: str) -> None:
    """Another tenant's connection id is 404 everywhere; read tokens cannot write."""
    await app.tenant("acme")
    await app.tenant("globex")
    acme = app.auth(await app.token("acme", "connections:write"))
    other = app.auth(await app.token("globex", "connections:write"))
    reader = app.auth(await app.token("acme", "connections:read"))
    cid = (await create(app, acme, pg_source_db))["id"]
    c = app.client
    calls = [
        ("GET", f"/pip/connections/{cid}", None),
        ("PUT", f"/pip/connections/{cid}", {"name": "mine"}),
        ("DELETE", f"/pip/connections/{cid}", None),
        ("GET", f"/pip/connections/{cid}/health", None),
        ("GET", f"/pip/connections/{cid}/schema", None),
        ("PUT", f"/pip/connections/{cid}/mapping", {"streams": {}}),
    ]
    for method, path, body in calls:
        resp = await c.request(method, path, json=body, headers=other)
        assert resp.status_code == 404, (method, path, resp.text)
    assert (await c.get("/pip/connections", headers=other)).json()["items"] == []
    assert (await c.get(f"/pip/connections/{cid}", headers=reader)).status_code == 200
    denied = await c.post(
        "/pip/connections",
        json={"name": "x", "type": "postgresql", "config": pg_config(pg_source_db)},
        headers=reader,
    )
    assert denied.status_code == 403
    assert (await c.get("/pip/connections")).status_code == 401
    connectors = (await c.get("/pip/connectors", headers=reader)).json()
    spec = {x["name"]: x for x in connectors}["postgresql"]
    assert spec["secret_fields"] == ["password"]
    assert spec["spec"]["properties"]["password"]["x-secret"] is True


async def test_private_hosts_need_the_allow_list(settings: Settings, pg_source_db: str) -> None:
    """Without GATEHOUSE_OUTBOUND_ALLOW a database on loopback is refused with the fix named."""
    async with started(settings) as h:
        await h.tenant("acme")
        auth = h.auth(await h.token("acme", "connections:write"))
        resp = await h.client.post(
            "/pip/connections/test",
            json={"type": "postgresql", "config": pg_config(pg_source_db)},
            headers=auth,
        )
    body = resp.json()
    assert (body["ok"], body["failure"]) == (False, "unreachable")
    assert "GATEHOUSE_OUTBOUND_ALLOW" in body["message"]


@BOTH
async def test_credentials_sealed_rotated_and_kept_out_of_logs(
    app: Harness, pg_source_db: str, log_lines: io.StringIO
) -> None:
    """Stored sealed to their row, re-sealed by key rotation, never in logs."""
    await app.tenant("acme")
    auth = app.auth(await app.token("acme", "connections:write"))
    cid = (await create(app, auth, pg_source_db))["id"]
    async with app.svc.db.transaction() as s:
        from sqlalchemy import text

        stored = (await s.execute(text("SELECT credentials FROM connections"))).scalar_one()
        assert PASSWORD not in str(stored)
        old = app.svc.keys.active
        await secrets.rotate(s, app.svc.keys)
    async with app.svc.db.transaction() as s:
        assert await secrets.prune(s, app.svc.keys) == [old]
    health = await app.client.get(f"/pip/connections/{cid}/health", headers=auth)
    assert health.json()["ok"], health.text
    assert PASSWORD not in log_lines.getvalue()
