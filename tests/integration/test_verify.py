"""The verification window after ``plumb sync --wait``, for real: Pods on KWOK's simulated nodes, a
real Prometheus scraping an exporter whose counters the test sets, and the app's health read from the
API server. "Green at rollout, 5xx a moment later" is reproduced with a window of seconds."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane, Exporter, Prometheus, SimulatedNodes
from tests.support import cli
from tests.support.json_keys import not_camel_case
from tests.support.kwok import running_deployment, web_app

pytestmark = pytest.mark.integration


def _environment(url: str, *, window: str, query: str, failure_limit: int = 0, error_limit: int = 4) -> str:
    """The Environment ``default`` every App here is in, with its verification window: one check,
    ``errors``, failing when the query's value is above 5 %."""
    return f"""---
apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata:
  name: default
spec:
  verification:
    window: {window}
    interval: 1s
    onFailure: rollback
    prometheus: {{url: "{url}"}}
    checks:
      - name: errors
        query: '{query}'
        failWhen: {{op: ">", threshold: 0.05}}
        failureLimit: {failure_limit}
        consecutiveErrorLimit: {error_limit}
"""


class Site:
    """An App whose Deployment runs on KWOK nodes, the request counters it serves (in the session's
    exporter, scraped by its Prometheus), and its Environment's verification settings."""

    def __init__(
        self, tmp_path: Path, plane: ControlPlane, prometheus: Prometheus, exporter: Exporter
    ) -> None:
        self.ws, self.app, self.namespace = web_app(
            tmp_path, plane, running_deployment("web", replicas=1), prefix="verify"
        )
        self.prometheus, self.exporter = prometheus, exporter
        self.metric = f"t{uuid.uuid4().hex[:8]}_requests"  # the session's exporter is shared
        self.apps = self.ws.config.read_text()
        self.ws.env["PYTHONUNBUFFERED"] = "1"

    def serve(self, *, ok: int, failed: int) -> None:
        """The app has answered ``ok`` requests and failed ``failed`` (code 500), once Prometheus says so."""
        self.exporter.set(self.metric, ok, code="200")
        self.exporter.set(self.metric, failed, code="500")
        self.prometheus.wait_for(f'{self.metric}_total{{code="500"}}', failed)
        self.prometheus.wait_for(f'{self.metric}_total{{code="200"}}', ok)

    @property
    def error_ratio(self) -> str:
        return f'sum({self.metric}_total{{code="500"}}) / sum({self.metric}_total)'

    def verify_with(self, *, window: str, query: str, failure_limit: int = 0, error_limit: int = 4) -> None:
        settings = _environment(
            self.prometheus.url,
            window=window,
            query=query,
            failure_limit=failure_limit,
            error_limit=error_limit,
        )
        self.ws.config.write_text(self.apps + settings)

    def sync_watching(self, react: Callable[[list[str]], bool], *args: str) -> tuple[int, list[str], float]:
        """``plumb sync APP --wait ARGS``, reading its lines as they come; ``react`` is called with the
        lines so far after each one until it returns True. Its exit code, lines and run time."""
        started = time.monotonic()
        process = subprocess.Popen(
            cli.argv("sync", self.app, "--wait", "--timeout", "90s", *args),
            env=self.ws.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        lines: list[str] = []
        reacted = False
        try:
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if not reacted:
                    reacted = react(lines)
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return code, lines, time.monotonic() - started


def _rounds(lines: list[str]) -> list[str]:
    """The lines of the verification rounds (``3s: health Healthy · errors 0, fails when > 0.05``)."""
    start = next(i for i, line in enumerate(lines) if line.startswith("verifying "))
    return [line for line in lines[start + 1 :] if line.split(":")[0].endswith("s") and "health " in line]


@pytest.fixture
def site(
    tmp_path: Path,
    control_plane: ControlPlane,
    kwok_nodes: SimulatedNodes,
    prometheus: Prometheus,
    exporter: Exporter,
) -> Site:
    return Site(tmp_path, control_plane, prometheus, exporter)


def test_green_at_rollout_then_5xx_fails_the_window_at_its_failure_limit(site: Site) -> None:
    site.serve(ok=200, failed=0)
    site.verify_with(window="60s", query=site.error_ratio, failure_limit=1)

    def surge_after_two_green_rounds(lines: list[str]) -> bool:
        if len([r for r in _rounds_so_far(lines) if "errors 0, fails when > 0.05" in r]) < 2:
            return False
        site.exporter.set(site.metric, 100, code="500")  # the 5xx surge, once the release looked fine
        return True

    code, lines, took = site.sync_watching(surge_after_two_green_rounds)
    text = "\n".join(lines)
    assert code == 5, text  # synced and Healthy, but not verified
    assert f"{site.app}: Healthy after " in text
    assert f"verifying {site.app} for 60s (every 1s): health, errors" in text
    rounds = _rounds(lines)
    assert "health Healthy · errors 0, fails when > 0.05" in rounds[0]
    failing = [r for r in rounds if "errors 0.333333 > 0.05" in r]
    assert len(failing) == 2, rounds  # the first failure is allowed (failureLimit 1), the second is not
    assert rounds[-1] == failing[-1]  # and the window ended there, not at 60s
    assert took < 60, took
    verdict = next(line for line in lines if "verification Failed" in line)
    assert verdict.endswith("errors failed 2 time(s) (failure limit 1): 0.333333 > 0.05")
    assert "configured response (onFailure): rollback" in text

    audit = site.ws.plumb("audit", site.app, "-o", "json")
    assert audit.returncode == 0, audit.stderr
    (verified,) = [r for r in json.loads(audit.stdout) if r["action"] == "verify"]
    assert verified["outcome"] == "Failed"
    assert verified["summary"]["check"] == "errors" and verified["summary"]["onFailure"] == "rollback"
    counts = {c["check"]: (c["failures"], c["errors"]) for c in verified["summary"]["checks"]}
    assert counts == {"health": (0, 0), "errors": (2, 0)}


def _rounds_so_far(lines: list[str]) -> list[str]:
    return _rounds(lines) if any(line.startswith("verifying ") for line in lines) else []


def test_a_window_that_holds_passes_a_query_that_errors_is_inconclusive_and_health_must_hold(
    site: Site, cluster: Cluster
) -> None:
    site.serve(ok=50, failed=1)  # 2 %: below the threshold
    site.verify_with(window="3s", query=site.error_ratio)
    passed = site.ws.plumb("sync", site.app, "--wait", "--timeout", "90s", "-o", "json")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    data = json.loads(passed.stdout)
    verification = data["verification"]
    assert not_camel_case(verification) == []
    assert verification["outcome"] == "Passed" and verification["passed"] is True
    assert verification["windowSeconds"] == 3 and verification["elapsedSeconds"] >= 3
    errors = [m for m in verification["measurements"] if m["check"] == "errors"]
    assert len(errors) >= 3 and all(m["phase"] == "Successful" for m in errors)
    assert errors[0]["value"] == pytest.approx(1 / 51)
    # Seen everywhere: status says the synced commit is verified, diff says the app is Healthy now.
    assert _status(site)[0:2] == ("Healthy", "Passed")
    diff = site.ws.plumb("diff", site.app)
    assert diff.returncode == 0 and f"{site.app} is Healthy now" in diff.stdout, diff.stdout + diff.stderr
    plan = json.loads(site.ws.plumb("diff", site.app, "-o", "json").stdout)
    assert plan["health"] == {"status": "Healthy", "message": ""}

    # Prometheus refuses the query: nobody knows whether the release works.
    site.verify_with(window="60s", query="sum((", error_limit=1)
    refused = site.ws.plumb("sync", site.app, "--wait", "--timeout", "90s")
    assert refused.returncode == 5, refused.stdout + refused.stderr
    verdict = next(
        line for line in refused.stdout.splitlines() if "verification " in line and "after" in line
    )
    assert f"{site.app}: verification Inconclusive after " in verdict
    assert "errors errored 2 time(s) in a row (consecutive error limit 1): query 'sum((': bad_data" in verdict
    assert _status(site)[1] == "Inconclusive"
    skipped = site.ws.plumb("sync", site.app, "--wait", "--timeout", "90s", "--no-verify")
    assert skipped.returncode == 0 and "verifying" not in skipped.stdout

    # Health must stay Healthy: the Service goes missing during the window.
    site.verify_with(window="60s", query=site.error_ratio)

    def delete_the_service(lines: list[str]) -> bool:
        if not _rounds_so_far(lines):
            return False
        cluster.request("DELETE", f"/api/v1/namespaces/{site.namespace}/services/web")
        return True

    code, lines, took = site.sync_watching(delete_the_service)
    text = "\n".join(lines)
    assert code == 5, text
    assert f"{site.app}: verification Failed after " in text
    assert "health failed 1 time(s) (failure limit 0): Missing: Service/web" in text
    assert took < 60
    audit = site.ws.plumb("audit", site.app, "-o", "json")
    outcomes = [r["outcome"] for r in json.loads(audit.stdout) if r["action"] == "verify"]
    assert outcomes == ["Passed", "Inconclusive", "Failed"]
    health, verified, table = _status(site)
    assert (health, verified) == ("Missing", "Failed")
    assert "HEALTH" in table and "VERIFIED" in table


def _status(site: Site) -> tuple[str, str, str]:
    """The app's health and verification in ``plumb status -o json``, and the status table."""
    (row,) = json.loads(site.ws.plumb("status", site.app, "-o", "json").stdout)
    assert not_camel_case(row) == []
    return row["health"], row["verification"], site.ws.plumb("status", site.app).stdout
