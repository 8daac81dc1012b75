"""Signed commits on the real control plane: ``plumb sync`` and the controller refuse a revision whose
commit is not signed by a listed key, and write it once it is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from plumbline.controller import Result
from tests.support.signing import Signer, keys, signed_commit
from tests.support.sites import Site, one

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def signers() -> Iterator[dict[str, Signer]]:
    with keys() as made:
        yield {"alice": made.openpgp("alice"), "bob": made.ssh("bob"), "eve": made.ssh("eve")}


def require(site: Site, *listed: Signer) -> None:
    keys = "".join(f"\n    - {{name: {s.name}, {s.kind}: {json.dumps(s.public)}}}" for s in listed)
    environment = f"""apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata: {{name: default}}
spec:
  signatures:
    mode: head
    keys:{keys}
---
"""
    site.config.write_text(environment + site.config.read_text())


def test_sync_and_the_controller_write_only_signed_revisions(
    make_site: Any, signers: dict[str, Signer]
) -> None:
    site = make_site("sync")
    alice, bob, eve = signers["alice"], signers["bob"], signers["eve"]
    require(site, alice, bob)
    unsigned = signed_commit(site.repo, "unsigned", None)

    diff = site.plumb("diff", site.app)
    assert f"{unsigned[:12]} not signed — a sync is blocked" in diff.stdout, diff.stdout + diff.stderr
    blocked = site.plumb("sync", site.app)
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    output = blocked.stdout + blocked.stderr
    assert f"Commit/{unsigned}" in output and "is not signed" in output, output
    assert site.live() is None

    site.write_config_map("LOG_LEVEL", "debug")
    signed = signed_commit(site.repo, "signed by alice", alice)
    shown = json.loads(site.plumb("diff", site.app, "-o", "json").stdout)["signatures"]
    assert [(c["requiredBy"], c["mode"]) for c in shown] == [("Environment default", "head")]
    [commit] = shown[0]["commits"]
    assert (commit["sha"], commit["state"], commit["key"]) == (signed, "good", "alice")
    assert alice.fingerprint in commit["signer"]
    synced = site.plumb("sync", site.app)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    record = site.store.last_sync(site.app)
    [commit] = record.flags["signatures"][0]["commits"]  # history keeps who signed what was synced
    assert (commit["sha"], commit["key"]) == (signed, "alice") and alice.fingerprint in commit["signer"]
    assert site.live()["data"] == {"LOG_LEVEL": "debug"}

    site.write_config_map("LOG_LEVEL", "trace")
    by_eve = signed_commit(site.repo, "signed by a key nobody listed", eve)
    controller = site.controller()
    outcome = one(controller)
    assert outcome.result is Result.BLOCKED and "environment" in outcome.message, outcome
    assert site.live()["data"] == {"LOG_LEVEL": "debug"}
    record = site.store.last_sync(site.app, result=None)
    assert record is not None and record.sha == by_eve
    [finding] = [f for f in record.flags["findings"] if f["guard"] == "environment"]
    assert finding["subject"] == f"Commit/{by_eve}" and eve.fingerprint in finding["message"]
    assert f'plumbline_guard_blocks_total{{app="{site.app}"}} 1.0' in controller.metrics.render().decode()
    assert signed != by_eve
