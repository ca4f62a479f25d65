"""Against a real opal-server and opal-client: Gatehouse's update reaches a subscribed client,
which fetches the document from Gatehouse and reports back; OPAL down, then back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import service_missing
from tests.opal.processes import OpalAuth, free_port, opal_client, opal_server, opal_venv
from tests.serving import serving

pytestmark = pytest.mark.xdist_group("cli")
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@dataclass
class Site:
    """A Gatehouse process with tenant acme, and what OPAL needs to reach it."""

    url: str
    admin: str
    fetch: str
    workdir: Path

    def get(self, path: str) -> Any:
        """GET as the admin."""
        r = httpx.get(self.url + path, headers=self.auth(), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def auth(self) -> dict[str, str]:
        """The admin's Authorization header."""
        return {"Authorization": f"Bearer {self.admin}"}

    def wait(self, check: Any, seconds: float = 60.0) -> Any:
        """Poll the OPAL status until `check` finds something."""
        deadline = time.monotonic() + seconds
        while True:
            found = check(self.get("/pip/opal/status"))
            if found:
                return found
            assert time.monotonic() < deadline, json.dumps(self.get("/pip/opal/status"))[:3000]
            time.sleep(0.25)


@pytest.fixture
def venv() -> Path:
    """The OPAL virtualenv, or skip (fail on CI) when `make opal-venv` has not run."""
    found = opal_venv()
    if found is None:
        service_missing("OPAL", "no virtualenv with opal-server; run `make opal-venv`")
    assert found is not None
    return found


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """`gatehouse serve` allowed to reach loopback, tenant acme with a user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(
        GATEHOUSE_HOME=str(tmp_path / "var"),
        GATEHOUSE_LOG_LEVEL="WARNING",
        GATEHOUSE_OUTBOUND_ALLOW="127.0.0.0/8",
        GATEHOUSE_OPAL_RETRY_MAX_SECONDS="1",
    )

    def gh(*args: str) -> str:
        done = subprocess.run(
            [GATEHOUSE, *args], env=env, capture_output=True, text=True, check=True, timeout=60
        )
        return done.stdout

    gh("db", "upgrade")
    gh("tenant", "create", "acme", "--tier", "enterprise")
    admin, fetch = (
        json.loads(gh("token", "create", "--tenant", "acme", "-s", scope, "--json"))["token"]
        for scope in ("admin:*", "opal:read")
    )
    with serving(env) as url:
        scim = {"Authorization": f"Bearer {admin}", "Content-Type": "application/scim+json"}
        made = httpx.post(
            f"{url}/scim/v2/Users",
            content=json.dumps({"schemas": [USER], "userName": "alice", "title": "Engineer"}),
            headers=scim,
            timeout=10,
        )
        assert made.status_code == 201, made.text
        yield Site(url, admin, fetch, tmp_path)


def configured(site: Site, opal_url: str, **extra: Any) -> tuple[str, dict[str, str]]:
    """Turn publishing on; return the generated server data sources and client env, with the
    placeholders replaced by the fetch token as docs/opal.md says."""
    body: dict[str, Any] = {
        "enabled": True,
        "server_url": opal_url,
        "fetch_base_url": site.url,
        "fetch_token": site.fetch,
        "debounce_seconds": 0,
        **extra,
    }
    r = httpx.put(f"{site.url}/pip/opal/settings", json=body, headers=site.auth(), timeout=10)
    assert r.status_code == 200, r.text
    config = site.get("/pip/opal/config")
    placeholder = "<gatehouse token with scope opal:read>"
    sources = config["server_env"]["OPAL_DATA_CONFIG_SOURCES"].replace(placeholder, site.fetch)
    client = {
        k: v.replace(placeholder, site.fetch)
        for k, v in config["client_env"].items()
        if not v.startswith("<")
    }
    return sources, client


def patch_title(site: Site, title: str) -> None:
    """A committed SCIM PATCH of alice's title."""
    users = httpx.get(
        f"{site.url}/scim/v2/Users", headers=site.auth(), params={"filter": 'userName eq "alice"'}
    ).json()["Resources"]
    ops = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": title}]}
    r = httpx.patch(
        f"{site.url}/scim/v2/Users/{users[0]['id']}",
        content=json.dumps(ops),
        headers={**site.auth(), "Content-Type": "application/scim+json"},
        timeout=10,
    )
    assert r.status_code == 200, r.text


def reported(update_id: str) -> Any:
    """A status check: the succeeded client report about `update_id`."""

    def check(status: dict[str, Any]) -> Any:
        return next(
            (r for r in status["reports"] if r["update_id"] == update_id and r["succeeded"]), None
        )

    return check


def delivered_after(revision: int) -> Any:
    """A status check: a delivered publish newer than `revision`."""

    def check(status: dict[str, Any]) -> Any:
        last = status["last_delivered"]
        return last if last and last["revision"] > revision else None

    return check


def test_an_update_reaches_a_subscribed_opal_client(venv: Path, site: Site) -> None:
    """SCIM change → DataUpdate to opal-server → opal-client fetches /opal/pip-data with the
    token in the entry → saves it → reports to /opal/reports/acme; then OPAL down and back."""
    port = free_port()
    opal_url = f"http://127.0.0.1:{port}"
    sources, client_env = configured(site, opal_url)
    with (
        opal_server(venv, site.workdir, port, sources),
        opal_client(venv, site.workdir, free_port(), client_env),
    ):
        initial = site.wait(delivered_after(-1))
        # The client loads the full picture at start (OPAL_DATA_CONFIG_SOURCES) and reports it.
        site.wait(lambda s: any(r["succeeded"] for r in s["reports"]))
        patch_title(site, "Principal")
        sent = site.wait(delivered_after(initial["revision"]))
        report = site.wait(reported(sent["id"]))
        assert report["entries"][0]["url"] == f"{site.url}/opal/pip-data/acme"
        assert report["entries"][0]["fetched"] and report["entries"][0]["saved"]
    # OPAL is down: the change waits, retried, with the error shown.
    patch_title(site, "Fellow")

    def failing(status: dict[str, Any]) -> Any:
        top = status["publishes"][0]
        return top if top["status"] != "delivered" and top["attempts"] >= 2 else None

    stuck = site.wait(failing)
    assert stuck["last_error"] and site.get("/pip/opal/status")["pending"] == 1
    with opal_server(venv, site.workdir, port, sources):
        back = site.wait(delivered_after(sent["revision"]))
        assert back["id"] == stuck["id"]


def test_an_opal_server_with_auth_takes_the_datasource_token(venv: Path, site: Site) -> None:
    """With auth keys OPAL refuses updates without its datasource JWT (shown as the error and
    retried); with the token set, the update goes through and reaches the client."""
    port = free_port()
    opal_url = f"http://127.0.0.1:{port}"
    auth = OpalAuth.generate()
    sources, client_env = configured(site, opal_url, datasource_token="not-a-jwt")
    with opal_server(venv, site.workdir, port, sources, auth):
        client_env["OPAL_CLIENT_TOKEN"] = auth.token(opal_url, "client")

        def refused(status: dict[str, Any]) -> Any:
            top = status["publishes"][0] if status["publishes"] else None
            return top if top and top["response_status"] in (401, 403) else None

        stuck = site.wait(refused)
        assert stuck["status"] != "delivered"
        with opal_client(venv, site.workdir, free_port(), client_env):
            body = {"datasource_token": auth.token(opal_url, "datasource")}
            settings = httpx.get(f"{site.url}/pip/opal/settings", headers=site.auth()).json()
            keep = {k: v for k, v in settings.items() if not k.endswith(("_set", "version", "_at"))}
            r = httpx.put(
                f"{site.url}/pip/opal/settings", json={**keep, **body}, headers=site.auth()
            )
            assert r.status_code == 200, r.text
            sent = site.wait(delivered_after(-1))
            assert sent["id"] == stuck["id"]
            patch_title(site, "Auth")
            later = site.wait(delivered_after(sent["revision"]))
            site.wait(reported(later["id"]))
