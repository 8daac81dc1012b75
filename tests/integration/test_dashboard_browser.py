"""The dashboard in a real headless Chromium (Debian's, driven by Playwright), on the real control plane,
after the steps of `make demo`: the overview, an app's drift-revert with who and when, a 1,000-object
plan within a measured budget, a pause from the page, a refused action, and no secret value anywhere.

Screenshots of the main pages go to $PLUMBLINE_SCREENSHOTS when set (docs/ holds the README's)."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster, Permission
from plumbline.local import ControlPlane
from tests.support.browser import DESKTOP, PHONE, measure_plan_page
from tests.support.sites import Workspace
from tests.support.web import UI, ui, user

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "examples" / "guestbook"
SECRET_VALUE = f"s3cr3t-{uuid.uuid4().hex[:8]}"
LIVE_SECRET_VALUE = f"l1ve-{uuid.uuid4().hex[:8]}"
RENDER_BUDGET_S = 3.0  # the browser's share of a 1,000-object page: parse, style, lay out (0.3-1 s)
EXPAND_BUDGET_S = 1.0  # one diff opened, to painted (measured: 40-300 ms on 2 shared cores)


@dataclass
class World:
    workspace: Workspace
    namespaces: dict[str, str]  # app -> its destination namespace
    cluster: Cluster
    ui: UI


def shots() -> Path | None:
    folder = os.environ.get("PLUMBLINE_SCREENSHOTS")
    return Path(folder) if folder else None


def patch(cluster: Cluster, path: str, body: dict[str, Any]) -> None:
    """A live edit, as `kubectl edit` makes it (its own field manager)."""
    cluster.request(
        "PATCH",
        path,
        query={"fieldManager": "kubectl-edit"},
        body=body,
        content_type="application/merge-patch+json",
    )


@pytest.fixture(scope="module")
def world(
    control_plane: ControlPlane, cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """`make demo`'s steps in a namespace of its own: guestbook synced, a commit synced, a live fix to
    DB_HOST and a live Service, a routine commit on top; billing (with a Secret) synced then edited
    live and paused; catalog observed, never synced."""
    base = f"t-{uuid.uuid4().hex[:8]}"
    namespaces = {app: f"{base}-{app}" for app in ("guestbook", "billing", "catalog")}
    ws = Workspace(tmp_path_factory.mktemp("demo"), control_plane)
    shutil.copytree(EXAMPLES, ws.repo / "apps" / "guestbook")
    (ws.repo / "apps" / "billing").mkdir()
    (ws.repo / "apps" / "billing" / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: billing-db\ntype: Opaque\n"
        f"stringData:\n  password: {SECRET_VALUE}\n"
    )
    (ws.repo / "apps" / "catalog").mkdir()
    (ws.repo / "apps" / "catalog" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: catalog\ndata:\n  PAGE_SIZE: '50'\n"
    )
    ws.commit("three apps\n\nPlumb-Allow: secrets Secret/billing-db\n")
    for app, namespace in namespaces.items():
        ws.add_app(app, f"apps/{app}", namespace)
    # catalog is never synced; its namespace exists for the users the pause test makes there
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespaces["catalog"]}}
    cluster.request("POST", "/api/v1/namespaces", body=body)
    for app in ("guestbook", "billing"):
        synced(ws, app)
    deployment = ws.repo / "apps" / "guestbook" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("nginx:1.27", "nginx:1.28"))
    ws.commit("guestbook: nginx 1.28")
    synced(ws, "guestbook")
    patch(
        cluster,
        f"/api/v1/namespaces/{namespaces['guestbook']}/configmaps/guestbook-env",
        {"data": {"DB_HOST": "pgbouncer-primary.svc"}},
    )
    patch(
        cluster,
        f"/api/v1/namespaces/{namespaces['billing']}/secrets/billing-db",
        {"data": {"password": base64.b64encode(LIVE_SECRET_VALUE.encode()).decode()}},
    )
    deployment.write_text(deployment.read_text().replace("nginx:1.28", "nginx:1.29"))
    ws.commit("guestbook: nginx 1.29")
    assert ws.plumb("pause", "billing", "--reason", "incident 42: DB failover", "--for", "2h").returncode == 0
    try:
        with ui(ws.env) as served:
            yield World(ws, namespaces, cluster, served)
    finally:
        for namespace in namespaces.values():
            with contextlib.suppress(Exception):
                cluster.request("DELETE", f"/api/v1/namespaces/{namespace}")


def synced(ws: Workspace, app: str) -> None:
    done = ws.plumb("sync", app)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_the_overview_after_the_demo_s_steps(world: World, browser: Any) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(world.ui.url + "/", timeout=120_000)
    rows = {row.locator("th").inner_text(): row.inner_text() for row in page.locator("#live-rows tr").all()}
    assert set(rows) == {"guestbook", "billing", "catalog"}, rows
    assert (
        "OutOfSync" in rows["guestbook"]
        and "drift-revert" in rows["guestbook"]
        and "commit" in rows["guestbook"]
    )
    assert (
        "paused" in rows["billing"]
        and "incident 42" in rows["billing"]
        and re.search(r"\(1h 5\dm left\)", rows["billing"])
    )
    assert "OutOfSync" in rows["catalog"] and "never" in rows["catalog"]
    page.keyboard.press("Tab")  # the keyboard's first stop skips to the content
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_label("Sync", exact=True).select_option("Synced")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=Synced**")
    page.wait_for_timeout(2500)  # a live update or two: they keep the filter
    assert page.locator("#live-rows tr").first.inner_text() == "No app matches."
    page.goto(world.ui.url + "/", timeout=120_000)
    if folder := shots():
        page.screenshot(path=str(folder / "dashboard-overview.png"), full_page=True)
    phone = browser.new_page(viewport=PHONE)
    phone.goto(world.ui.url + "/", timeout=120_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1  # no sideways scroll
    if folder := shots():
        phone.screenshot(path=str(folder / "dashboard-phone.png"), full_page=True)
    assert_no_secret(page.content() + phone.content())
    page.close()
    phone.close()


def test_a_drift_revert_shows_the_field_the_editor_and_the_age(world: World, browser: Any) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(world.ui.url + "/apps/guestbook", timeout=120_000)
    row = page.locator("tr.row-drift-revert", has_text="/data/DB_HOST")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[0].strip().endswith("drift-revert")  # the words, not only the colour
    assert cells[2] == '"pgbouncer-primary.svc"' and cells[3] == '"guestbook.guestbook.svc.cluster.local"', (
        cells
    )
    assert cells[4].startswith("kubectl-edit") and re.fullmatch(r"just now|\d+ \w+ ago", cells[5]), cells
    commit = page.locator("tr.row-commit", has_text="image")
    assert commit.count() == 1 and "nginx:1.29" in commit.inner_text()
    diffs = page.locator("details.diff")
    assert diffs.count() >= 2 and page.locator("details.diff[open]").count() == 0  # collapsed
    # keyboard: Tab to the first diff's summary and open it with Enter
    page.locator("details.diff summary").first.focus()
    page.keyboard.press("Enter")
    assert page.locator("details.diff[open]").count() == 1
    # readable without colour: with the system's forced colours, attributions still differ in words and shape
    page.emulate_media(forced_colors="active")
    shapes = page.evaluate(ATTRIBUTION_SHAPES)
    assert shapes["drift-revert"] != shapes["commit"], shapes
    page.emulate_media(forced_colors="none")
    assert page.locator("#rebuild .verdict").inner_text() == "Rebuildable from Git: no"
    assert "Audit trail intact" in page.locator("#audit .verdict").inner_text()
    assert page.locator("#history tbody tr").count() >= 2
    if folder := shots():
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(folder / "dashboard-app.png"), full_page=True)
    page.goto(world.ui.url + "/apps/billing", timeout=120_000)
    assert_no_secret(page.content())
    assert page.locator("tr.row-drift-revert", has_text="/data/password").count() == 1
    page.close()


def test_a_pause_from_the_page_needs_reason_and_expiry_and_shows_in_plumb_status(
    world: World, browser: Any
) -> None:
    name, token = user(world.cluster, world.namespaces["catalog"], (Permission.PAUSE.value,))
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, world.ui.url, token, then="/apps/catalog")
    pause = page.get_by_role("button", name="Pause catalog")
    pause.click()  # neither reason nor expiry: the browser does not send the form
    assert page.url.endswith("/apps/catalog") and page.locator("#pause-reason:invalid").count() == 1
    page.get_by_label("Reason (required)").fill("load test window")
    pause.click()
    assert page.locator("#pause-expiry:invalid").count() == 1
    page.get_by_label("Expires after (required: 30m, 2h, 1d)").fill("45m")
    pause.click()
    page.wait_for_url("**/apps/catalog")
    assert "catalog: paused until" in page.locator(".flash").inner_text()
    assert "paused" in page.locator("#live-summary").inner_text()
    shown = world.workspace.plumb("status", "catalog")
    assert "paused" in shown.stdout and "load test window" in shown.stdout and name in shown.stdout, (
        shown.stdout
    )
    page.close()


def test_an_action_without_permission_is_refused(world: World, browser: Any) -> None:
    _, token = user(
        world.cluster, world.namespaces["guestbook"]
    )  # the cluster knows the user, RBAC grants nothing
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, world.ui.url, token, then="/apps/guestbook")
    with page.expect_response(lambda r: r.url.endswith("/apps/guestbook/sync")) as answer:
        page.get_by_role("button", name="Sync guestbook").click()
    assert answer.value.status == 403
    assert page.locator("h1").inner_text() == "Not allowed to sync guestbook"
    assert "may not sync app guestbook" in page.locator(".message").inner_text()
    history = world.workspace.plumb("history", "guestbook")
    assert history.stdout.count("succeeded") == 2  # nothing synced since the demo's two syncs
    page.close()


def test_a_1000_object_plan_renders_and_opens_one_diff_within_budget(
    control_plane: ControlPlane, tmp_path: Path, namespace: str, browser: Any
) -> None:
    ws = Workspace(tmp_path, control_plane)
    (ws.repo / "big").mkdir()
    one = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{n:04d}\ndata:\n  KEY: value-{n}\n"
    (ws.repo / "big" / "all.yaml").write_text("".join(one.format(n=n) for n in range(1000)))
    ws.commit("a thousand objects")
    ws.add_app("big", "big", namespace)
    with ui(ws.env) as served:
        measured = measure_plan_page(browser, served.url + "/apps/big", open_diff_of="cm-0500")
    budget = f"budgets: render {RENDER_BUDGET_S}s, open {EXPAND_BUDGET_S * 1000:.0f}ms"
    print(f"\n1,000-object plan: {measured} ({budget})")
    assert measured.objects == 1001  # the objects and the namespace
    assert measured.render_s < RENDER_BUDGET_S and measured.expand_s < EXPAND_BUDGET_S


ATTRIBUTION_SHAPES = """() => Object.fromEntries([...document.querySelectorAll('.attr')].map(
  (label) => [label.textContent.trim(), getComputedStyle(label).borderStyle]))"""


def sign_in(page: Any, url: str, token: str, *, then: str) -> None:
    page.goto(f"{url}/login?next={then}")
    page.get_by_label("Bearer token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{then}", timeout=120_000)


def assert_no_secret(text: str) -> None:
    for value in (SECRET_VALUE, LIVE_SECRET_VALUE):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text
