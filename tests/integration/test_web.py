"""The dashboard (``plumb ui``) over HTTP, against the real control plane: the pages show what the CLI
shows, secret values never, and actions are only for users the cluster authenticates and allows."""

from __future__ import annotations

import base64
import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Permission
from plumbline.store import AppStateKind, AuditAction
from tests.support.git import git
from tests.support.sites import Site
from tests.support.web import UI, Client, ui, user

pytestmark = pytest.mark.integration

SECRET_VALUE = "hunter2-do-not-show"
LIVE_SECRET_VALUE = "correct-horse-live-edit"


def add_secret(site: Site) -> None:
    (site.repo / "app" / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n"
        f"stringData:\n  password: {SECRET_VALUE}\n"
    )
    site.commit("a secret\n\nPlumb-Allow: secrets Secret/db\n")


def edit_secret(site: Site) -> None:
    site.cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{site.namespace}/secrets/db",
        query={"fieldManager": "kubectl-edit"},
        body={"data": {"password": base64.b64encode(LIVE_SECRET_VALUE.encode()).decode()}},
        content_type="application/merge-patch+json",
    )


def assert_no_secret(text: str) -> None:
    for value in (SECRET_VALUE, LIVE_SECRET_VALUE):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text


@pytest.fixture
def drifted(make_site: Any) -> Iterator[tuple[Site, UI]]:
    """A synced app whose ConfigMap and Secret were then edited live (drift-revert), served by plumb ui."""
    site = make_site("sync")
    add_secret(site)
    assert site.plumb("sync", site.app).returncode == 0
    site.edit("LOG_LEVEL", "debug")
    edit_secret(site)
    with ui(site.env()) as served:
        yield site, served


def test_pages_show_the_attributed_plan_and_never_a_secret_value(drifted: tuple[Site, UI]) -> None:
    site, served = drifted
    client = Client(served.url)
    status, overview = client.get("/")
    assert status == 200
    assert site.app in overview and "OutOfSync" in overview and "drift-revert" in overview
    status, page = client.get(f"/apps/{site.app}")
    assert status == 200, page[-3000:]
    row = page[page.index("<code>/data/LOG_LEVEL</code>") :].split("</tr>")[0]
    assert "kubectl-edit" in row and "<time datetime=" in row and "just now</time>" in row  # who, when
    assert "&#34;debug&#34;" in page and "&#34;info&#34;" in page  # live and Git values, escaped
    assert '<details class="diff">' in page and '<details class="diff" open' not in page
    assert "Rebuildable from Git: <strong>no</strong>" in page
    assert "Audit trail intact" in page and "succeeded" in page  # history with the sync
    assert "/data/password" in page  # the secret's drift is shown, as a fingerprint
    for path in ("/", f"/apps/{site.app}", "/events?app=" + site.app):
        text = _first_event(served.url + path) if path.startswith("/events") else client.get(path)[1]
        assert_no_secret(text)


def _first_event(url: str) -> str:
    with urllib.request.urlopen(url, timeout=120) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        seen = b""
        while b"event: " not in seen or not seen.endswith(b"\n\n"):
            chunk = response.read1(65536)
            assert chunk, seen
            seen += chunk
        return seen.decode()


def test_the_overview_streams_its_rows(drifted: tuple[Site, UI]) -> None:
    site, served = drifted
    event = _first_event(served.url + "/events")
    assert "event: rows" in event and site.app in event and "drift-revert" in event


def test_actions_need_a_signed_in_user_the_cluster_allows(drifted: tuple[Site, UI]) -> None:
    site, served = drifted
    form = {"reason": "incident 7", "expiry": "2h"}
    anonymous = Client(served.url)
    assert anonymous.post(f"/apps/{site.app}/pause", form)[0] == 401
    assert Client(served.url).sign_in("not-a-token") == 401
    _, token = user(site.cluster, site.namespace)  # known to the cluster, granted nothing
    client = Client(served.url)
    assert client.sign_in(token) == 303
    status, page = client.post(f"/apps/{site.app}/pause", {**form, "csrf": client.csrf(f"/apps/{site.app}")})
    assert status == 403 and "may not pause" in page, page[-2000:]
    bearer = {"Authorization": f"Bearer {token}"}
    status, page = Client(served.url).post(f"/apps/{site.app}/sync", {}, bearer)
    assert status == 403 and "may not sync" in page
    assert site.store.app_state(site.app).state is AppStateKind.ACTIVE
    assert [r for r in site.store.audit_log(site.app) if r.action is AuditAction.PAUSE] == []


def test_a_form_without_the_session_s_csrf_token_is_refused(drifted: tuple[Site, UI]) -> None:
    site, served = drifted
    _, token = user(site.cluster, site.namespace, (Permission.PAUSE.value,))
    client = Client(served.url)
    assert client.sign_in(token) == 303
    form = {"reason": "incident 7", "expiry": "2h"}
    assert client.post(f"/apps/{site.app}/pause", {**form, "csrf": "forged"})[0] == 403
    csrf = client.csrf(f"/apps/{site.app}")
    other_site = {"Origin": "http://evil.example"}
    assert client.post(f"/apps/{site.app}/pause", {**form, "csrf": csrf}, other_site)[0] == 403
    assert site.store.app_state(site.app).state is AppStateKind.ACTIVE


def test_a_pause_needs_reason_and_expiry_and_shows_in_plumb_status(drifted: tuple[Site, UI]) -> None:
    site, served = drifted
    name, token = user(site.cluster, site.namespace, (Permission.PAUSE.value, Permission.RESUME.value))
    client = Client(served.url)
    assert client.sign_in(token) == 303
    csrf = client.csrf(f"/apps/{site.app}")
    assert client.post(f"/apps/{site.app}/pause", {"expiry": "2h", "csrf": csrf})[0] == 400
    assert client.post(f"/apps/{site.app}/pause", {"reason": "incident 7", "csrf": csrf})[0] == 400
    assert (
        client.post(f"/apps/{site.app}/pause", {"reason": "x", "expiry": "forever", "csrf": csrf})[0] == 400
    )
    assert site.store.app_state(site.app).state is AppStateKind.ACTIVE
    status, _ = client.post(f"/apps/{site.app}/pause", {"reason": "incident 7", "expiry": "2h", "csrf": csrf})
    assert status == 303
    _, page = client.get(f"/apps/{site.app}")
    assert "paused until" in page and "incident 7" in page and "left" in page
    shown = site.plumb("status", site.app)
    assert "paused" in shown.stdout and "incident 7" in shown.stdout and name in shown.stdout, shown.stdout
    row = json.loads(site.plumb("status", site.app, "-o", "json").stdout)[0]
    assert row["state"] == "paused" and row["pause"]["actor"] == name and row["pause"]["until"]
    pauses = [r for r in site.store.audit_log(site.app) if r.action is AuditAction.PAUSE]
    assert [(r.actor, r.reason) for r in pauses] == [(name, "incident 7")]
    # resumed from the page: the live edits made meanwhile keep it paused-pending, as plumb resume says
    assert client.post(f"/apps/{site.app}/resume", {"reason": "over", "csrf": csrf})[0] == 303
    _, page = client.get(f"/apps/{site.app}")
    assert f"{site.app}: paused-pending" in page
    assert site.store.app_state(site.app).state is AppStateKind.PAUSED_PENDING


def test_capture_and_sync_from_the_page_act_as_the_signed_in_user(drifted: tuple[Site, UI]) -> None:
    site, served = drifted
    verbs = (Permission.CAPTURE.value, Permission.SYNC.value)
    name, token = user(site.cluster, site.namespace, verbs)
    client = Client(served.url)
    assert client.sign_in(token) == 303
    csrf = client.csrf(f"/apps/{site.app}")
    status, _ = client.post(f"/apps/{site.app}/capture", {"branch": "capture/from-the-page", "csrf": csrf})
    assert status == 303
    _, page = client.get(f"/apps/{site.app}")
    assert "on branch capture/from-the-page" in page, page[:3000]
    shown = git(site.repo, "show", "capture/from-the-page:app/env.yaml")
    assert "LOG_LEVEL: debug" in shown
    assert name in git(site.repo, "log", "-1", "--format=%an", "capture/from-the-page")
    # a sync that would revert the live edits is refused unless asked; asked, it reverts them as the user
    status, _ = client.post(f"/apps/{site.app}/sync", {"csrf": csrf})
    _, page = client.get(f"/apps/{site.app}")
    assert status == 303 and "sync blocked" in page
    status, _ = client.post(f"/apps/{site.app}/sync", {"revert_drift": "on", "csrf": csrf})
    _, page = client.get(f"/apps/{site.app}")
    assert status == 303 and "sync succeeded" in page
    live = site.live()
    assert live is not None and live["data"]["LOG_LEVEL"] == "info"
    newest = site.store.history(site.app, limit=1, with_desired=False)[0]
    assert newest.actor == name and newest.flags["revertDrift"] is True


def test_read_only_shows_and_never_acts(make_site: Any) -> None:
    site = make_site("sync")
    with ui(site.env(), "--read-only") as served:
        client = Client(served.url)
        status, page = client.get(f"/apps/{site.app}")
        assert status == 200 and "read-only" in page and "/pause" not in page
        assert client.get("/login")[0] == 403
        _, token = user(site.cluster, site.namespace, (Permission.PAUSE.value,))
        status, _ = client.post(
            f"/apps/{site.app}/pause", {"reason": "r", "expiry": "1h"}, {"Authorization": f"Bearer {token}"}
        )
        assert status == 403
    assert site.store.app_state(site.app).state is AppStateKind.ACTIVE


def test_it_binds_to_loopback_unless_told(make_site: Any) -> None:
    site = make_site("observe")
    with ui(site.env()) as served:
        port = int(served.url.rsplit(":", 1)[1])
        assert listening(port) == ["127.0.0.1"]


def listening(port: int) -> list[str]:
    """The IPv4 addresses something listens on at ``port`` (from /proc/net/tcp)."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found
