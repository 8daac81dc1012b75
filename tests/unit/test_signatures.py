"""Signed commits: real keys the tests make (gpg, ssh-keygen), commits signed by real ``git``, checked by
``gpgv`` and ``ssh-keygen -Y verify`` through the environment guard."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dulwich.objects import Commit
from dulwich.repo import Repo
from pydantic import ValidationError

from plumbline.config import Environment, GuardName, Project, Signatures
from plumbline.guards import Finding, decide, run_guards, trailers
from plumbline.signatures import SignatureState, ssh_key, ssh_signature, verify_commit, verify_revision
from plumbline.store import Store
from tests.support import cli
from tests.support.git import git, write_files
from tests.support.guards import context, environment, plan_of, project
from tests.support.signing import Signer, keys, signed_commit
from tests.support.store import sync_record


@pytest.fixture(scope="module")
def signers() -> Iterator[dict[str, Signer]]:
    with keys() as made:
        yield {
            "alice": made.openpgp("alice"),
            "mallory": made.openpgp("mallory"),
            "bob": made.ssh("bob"),
            "eve": made.ssh("eve"),
        }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    return root


def change(repo: Path, text: str) -> None:
    (repo / "notes.txt").write_text(text)


def requirement(*listed: Signer, mode: str = "head") -> Signatures:
    return Signatures.model_validate({"mode": mode, "keys": [s.key() for s in listed]})


def env_requiring(*listed: Signer, mode: str = "head") -> Environment:
    return environment("prod", signatures={"mode": mode, "keys": [s.key() for s in listed]})


def guard(repo: Path, head: str, the_env: Environment, **kw: Any) -> list[Finding]:
    ctx = context(the_env=the_env, sha=head, mirror=repo, **kw)
    return run_guards(plan=plan_of([]), context=ctx, only={GuardName.ENVIRONMENT})


def test_a_commit_signed_by_a_listed_key_passes(repo: Path, signers: dict[str, Signer]) -> None:
    alice, bob = signers["alice"], signers["bob"]
    change(repo, "one")
    by_alice = signed_commit(repo, "by alice", alice)
    change(repo, "two")
    by_bob = signed_commit(repo, "by bob", bob)

    [pgp] = verify_revision(repo, by_alice, requirement(alice, bob), since=None)
    assert pgp.state is SignatureState.GOOD and pgp.key == "alice"
    assert alice.fingerprint in pgp.signer and "alice@example.com" in pgp.signer
    [ssh] = verify_revision(repo, by_bob, requirement(alice, bob), since=None)
    assert ssh.state is SignatureState.GOOD and ssh.key == "bob" and bob.fingerprint in ssh.signer
    assert guard(repo, by_bob, env_requiring(alice, bob)) == []
    assert guard(repo, by_alice, env_requiring(alice)) == []


def test_an_unsigned_commit_is_blocked(repo: Path, signers: dict[str, Signer]) -> None:
    change(repo, "one")
    head = signed_commit(repo, "nobody signed this", None)

    [finding] = guard(repo, head, env_requiring(signers["alice"], signers["bob"]))
    assert finding.blocks and finding.guard is GuardName.ENVIRONMENT
    assert finding.subject == f"Commit/{head}" and finding.field == "signature"
    assert f"{head[:12]} is not signed" in finding.message
    assert "Environment prod requires commits signed by one of alice (OpenPGP), bob (SSH)" in finding.message
    assert f"--allow environment:Commit/{head}" in finding.fix


def test_a_commit_signed_by_an_unlisted_key_is_blocked_naming_the_signer(
    repo: Path, signers: dict[str, Signer]
) -> None:
    alice, bob = signers["alice"], signers["bob"]
    change(repo, "one")
    by_eve = signed_commit(repo, "eve's ssh key", signers["eve"])
    change(repo, "two")
    by_mallory = signed_commit(repo, "mallory's gpg key", signers["mallory"])

    [finding] = guard(repo, by_eve, env_requiring(alice, bob))
    assert f"signed by SSH key {signers['eve'].fingerprint}, which is not listed" in finding.message
    assert "list the signer's key in Environment prod" in finding.fix
    [finding] = guard(repo, by_mallory, env_requiring(alice, bob))
    assert f"signed by OpenPGP key {signers['mallory'].fingerprint}, which is not listed" in finding.message
    # Only SSH keys listed: gpgv still says who made the OpenPGP signature.
    [verdict] = verify_revision(repo, by_mallory, requirement(bob), since=None)
    assert verdict.state is SignatureState.UNLISTED and verdict.signer == signers["mallory"].fingerprint


def test_strict_mode_catches_an_unsigned_commit_in_the_middle(
    repo: Path, tmp_path: Path, signers: dict[str, Signer]
) -> None:
    bob = signers["bob"]
    change(repo, "one")
    first = signed_commit(repo, "signed", bob)
    change(repo, "two")
    middle = signed_commit(repo, "slipped in unsigned", None)
    change(repo, "three")
    head = signed_commit(repo, "signed on top", bob)

    assert guard(repo, head, env_requiring(bob, mode="head")) == []  # head mode sees only the top
    [finding] = guard(repo, head, env_requiring(bob, mode="strict"), base=first)
    assert finding.subject == f"Commit/{middle}"
    assert f"a commit in the revision's history {middle[:12]} is not signed" in finding.message
    assert f"strict: every commit since {first[:12]}" in finding.message
    assert guard(repo, head, env_requiring(bob, mode="strict"), base=middle) == []  # verified up to there

    # In a sync, "since" is the app's last synced commit in the store.
    with Store.open(tmp_path / "plumbline.db") as store:
        store.record_sync(sync_record("orders", sha=first))
        [finding] = guard(repo, head, env_requiring(bob, mode="strict"), store=store)
        assert finding.subject == f"Commit/{middle}"
        store.record_sync(sync_record("orders", sha=middle))
        assert guard(repo, head, env_requiring(bob, mode="strict"), store=store) == []
    # Nothing verified yet: the whole history counts.
    subjects = [f.subject for f in guard(repo, head, env_requiring(bob, mode="strict"))]
    assert subjects == [f"Commit/{middle}"]


def test_a_trailer_of_a_later_signed_commit_can_let_an_unsigned_one_through(
    repo: Path, signers: dict[str, Signer]
) -> None:
    bob = signers["bob"]
    change(repo, "one")
    unsigned = signed_commit(repo, "unsigned", None)
    change(repo, "two")
    head = signed_commit(repo, f"reviewed\n\nPlumb-Allow: environment Commit/{unsigned}", bob)
    findings = guard(repo, head, env_requiring(bob, mode="strict"))
    assert [f.subject for f in findings] == [f"Commit/{unsigned}"]
    message = git(repo, "log", "-1", "--format=%B", head)
    verdict = decide(findings, trailers=trailers(message, sha=head), now=context().clock())
    assert verdict.blocking == []
    assert [o.finding.subject for o in verdict.overridden] == [f"Commit/{unsigned}"]


def test_a_signature_that_no_longer_matches_its_commit_is_bad(repo: Path, signers: dict[str, Signer]) -> None:
    alice, bob = signers["alice"], signers["bob"]
    for signer in (alice, bob):
        change(repo, signer.name)
        sha = signed_commit(repo, "the real message", signer)
        with Repo(str(repo)) as r:
            original = r[sha.encode()]
            assert isinstance(original, Commit)
            forged = original.copy()
            assert isinstance(forged, Commit)
            forged.message = b"a message the signer never signed\n"  # keeps the gpgsig header
            r.object_store.add_object(forged)
        verdict = verify_commit(forged, requirement(alice, bob).keys)
        assert verdict.state is SignatureState.BAD and verdict.key == signer.name, verdict
        [finding] = guard(repo, forged.id.decode(), env_requiring(alice, bob))
        assert f"signed with listed key {signer.name}" in finding.message


def test_a_signature_of_another_format_cannot_be_verified_and_blocks(
    repo: Path, signers: dict[str, Signer]
) -> None:
    change(repo, "one")
    sha = signed_commit(repo, "to be re-signed with X.509", None)
    with Repo(str(repo)) as r:
        x509 = r[sha.encode()].copy()
        assert isinstance(x509, Commit)
        x509.gpgsig = b"-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3DQEHAqCA\n-----END SIGNED MESSAGE-----"
        r.object_store.add_object(x509)
    verdict = verify_commit(x509, requirement(signers["bob"]).keys)
    assert verdict.state is SignatureState.UNVERIFIABLE and "OpenPGP and SSH are" in verdict.why
    [finding] = guard(repo, x509.id.decode(), env_requiring(signers["bob"]))
    assert finding.blocks and "cannot be verified" in finding.message


def test_a_project_may_require_signatures_too(repo: Path, signers: dict[str, Signer]) -> None:
    change(repo, "one")
    head = signed_commit(repo, "by bob", signers["bob"])
    shop = project(signatures={"keys": [signers["alice"].key()]})
    ctx = context(the_project=shop, sha=head, mirror=repo)
    [finding] = run_guards(plan=plan_of([]), context=ctx, only={GuardName.ENVIRONMENT})
    assert "Project shop requires commits signed by one of alice (OpenPGP)" in finding.message


def test_without_the_repository_at_hand_a_required_signature_blocks(signers: dict[str, Signer]) -> None:
    ctx = context(the_env=env_requiring(signers["bob"]))
    [finding] = run_guards(plan=plan_of([]), context=ctx, only={GuardName.ENVIRONMENT})
    assert finding.blocks and finding.subject == "App/orders" and "cannot be checked" in finding.message


def test_ssh_keys_and_signatures_are_read_from_their_text(repo: Path, signers: dict[str, Signer]) -> None:
    bob = signers["bob"]
    assert ssh_key(bob.public).fingerprint == bob.fingerprint
    change(repo, "one")
    sha = signed_commit(repo, "by bob", bob)
    with Repo(str(repo)) as r:
        commit = r[sha.encode()]
        assert isinstance(commit, Commit) and commit.gpgsig is not None
        signed = ssh_signature(commit.gpgsig)
    assert signed.namespace == "git" and signed.key.fingerprint == bob.fingerprint


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ({"name": "k", "openpgp": "not a key"}, "expected an ASCII-armored OpenPGP public key"),
        ({"name": "k", "ssh": "ssh-ed25519 !!!"}, "not valid base64"),
        ({"name": "k", "ssh": "ssh-dss AAAA"}, "expected an SSH public key line"),
        ({"name": "k"}, "give exactly one of openpgp or ssh"),
        ({"name": "has space", "ssh": "x"}, "name"),
    ],
)
def test_a_key_that_is_not_one_is_refused_naming_it(key: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Signatures.model_validate({"keys": [key]})


def test_key_names_are_unique_and_the_mode_is_head_or_strict(signers: dict[str, Signer]) -> None:
    bob = signers["bob"].key()
    with pytest.raises(ValidationError, match="given more than once: bob"):
        Signatures.model_validate({"keys": [bob, bob]})
    with pytest.raises(ValidationError, match="'head' or 'strict'"):
        Signatures.model_validate({"mode": "sometimes", "keys": [bob]})
    assert Project.model_validate(
        {"apiVersion": "plumbline.dev/v1alpha1", "kind": "Project", "metadata": {"name": "p"},
         "spec": {"signatures": {"keys": [bob]}}}
    ).spec.signatures == Signatures.model_validate({"keys": [bob]})  # fmt: skip


CONFIG = """\
apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata: {name: default}
spec:
  signatures: {mode: strict, keys: [{name: bob, ssh: "%s"}]}
---
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata: {name: settings}
spec:
  source: {repoURL: ./repo, targetRevision: main, path: app}
  destination: {namespace: settings}
"""


def check(tmp_path: Path, base: str, head: str) -> tuple[int, dict[str, Any]]:
    """``plumb check -o json`` as CI runs it: no cluster, no kubeconfig."""
    env = {
        **os.environ,
        "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
        "PLUMBLINE_STATE_DIR": str(tmp_path / "state"),
        "PLUMBLINE_CONFIG": str(tmp_path / "plumbline.yaml"),
    }
    done = cli.plumb("check", "--base", base, "--head", head, "-o", "json", env=env, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)["apps"][0]


def test_plumb_check_blocks_a_merge_request_with_an_unsigned_commit_naming_the_signers(
    tmp_path: Path, repo: Path, signers: dict[str, Signer]
) -> None:
    bob, eve = signers["bob"], signers["eve"]
    (tmp_path / "plumbline.yaml").write_text(CONFIG % bob.public)
    change(repo, "one")
    before = signed_commit(repo, "unsigned, before the app existed", None)
    write_files(
        repo, {"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {a: '1'}\n"}
    )
    base = signed_commit(repo, "signed base", bob)
    # A new app (nothing to render at the base): strict still starts after the base commit.
    code, report = check(tmp_path, before, base)
    assert code == 0 and report["base"] is None and not report["findings"], report
    change(repo, "two")
    unsigned = signed_commit(repo, "unsigned", None)
    change(repo, "three")
    by_eve = signed_commit(repo, "signed by someone else", eve)

    code, report = check(tmp_path, base, by_eve)
    assert code == 1 and report["blocked"]
    found = {f["subject"]: f["message"] for f in report["findings"] if f["guard"] == "environment"}
    assert set(found) == {f"Commit/{unsigned}", f"Commit/{by_eve}"}
    assert "is not signed" in found[f"Commit/{unsigned}"]
    assert f"signed by SSH key {eve.fingerprint}, which is not listed" in found[f"Commit/{by_eve}"]

    change(repo, "four")
    head = signed_commit(repo, "signed by bob", bob)
    code, report = check(tmp_path, by_eve, head)  # the merge request's own commits only
    assert code == 0 and not report["findings"], report
