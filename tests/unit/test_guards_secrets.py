"""Secrets: plaintext Secrets and secret-looking values block, never echoing the value; clean apps pass."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plumbline.guards import Finding, apply_overrides, parse_allow, run_guards
from plumbline.guards.secrets import detect
from plumbline.plan import Plan
from tests.support.git import write_files
from tests.support.guards import CORPUS, config_map, context, corpus, deployment, guestbook, load, plan_of

GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\n"


def secrets(plan: Plan) -> list[Finding]:
    return run_guards(plan=plan, context=context(), only={"secrets"})


def test_plaintext_secret_blocks_without_printing_it() -> None:
    value = base64.b64encode(b"s3cr3t-db-password").decode()
    plan = plan_of(
        [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": value}}]
    )
    [finding] = secrets(plan)
    assert finding.blocks and "plaintext Secret" in finding.message and "ExternalSecret" in finding.fix
    assert value not in str(finding.to_dict()) and "s3cr3t" not in str(finding)


def test_values_that_look_like_secrets_block() -> None:
    plan = plan_of(
        [
            deployment("orders", env={"GITHUB_TOKEN": GITHUB_TOKEN, "AWS_KEY": "AKIAIOSFODNN7EXAMPLE"}),
            config_map("tls", **{"key.pem": PRIVATE_KEY}),
        ]
    )
    findings = secrets(plan)
    assert {f.field for f in findings} == {
        "spec.template.spec.containers[app].env[GITHUB_TOKEN]",
        "spec.template.spec.containers[app].env[AWS_KEY]",
        "data.key.pem",
    }
    text = " ".join(str(f) for f in findings)
    assert GITHUB_TOKEN not in text and "AKIAIOSFODNN7EXAMPLE" not in text and "MIIE" not in text
    assert "GitHub Token" in text and "Private Key" in text


def test_encrypted_and_external_pass() -> None:
    plan = plan_of(
        [
            {
                "apiVersion": "external-secrets.io/v1beta1",
                "kind": "ExternalSecret",
                "metadata": {"name": "db"},
                "spec": {"data": [{"secretKey": "password", "remoteRef": {"key": "prod/users-api/db"}}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "sops"},
                "data": {"password": "ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]"},
                "sops": {"version": "3.8.1"},
            },
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "empty"}, "type": "Opaque"},
        ]
    )
    assert secrets(plan) == []


def test_realistic_manifests_have_no_false_positives() -> None:
    """The guestbook and the corpus (real objects from gitops-engine): the only finding is a true one.

    The corpus's wordpress Secret, rendered by a Helm chart, really holds a base64 password in ``data``:
    exactly the "secrets in Git" of seeds 02 and 04. Everything else (Deployments, a StatefulSet with
    many env values, Services, a webhook configuration, a SealedSecret) passes.
    """
    assert secrets(plan_of(guestbook(), namespace="guestbook")) == []
    findings = secrets(plan_of(corpus(), namespace="default"))
    assert [(f.subject, f.field) for f in findings] == [("Secret/wordpress-wordpress", "data")]


def test_ordinary_config_values_are_not_secrets() -> None:
    for key, value in {
        "LOG_LEVEL": "info",
        "IMAGE": "registry.example/orders@sha256:" + "3f4a0c1b2d5e6f70" * 4,
        "REQUEST_ID": "5f0e6b0a-8b5c-4c4f-9a51-1f2b3c4d5e6f",
        "URL": "http://guestbook.guestbook.svc.cluster.local:80/inventory",
        "JAVA_OPTS": "-Xmx512m -XX:+UseG1GC",
    }.items():
        assert detect(key, value) == [], key


# Issue 9 item 4: a credential in Git is a leak whatever object (or none) holds it, and what
# detect-secrets' own filters skip is not a secret.

GIT_SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
SLACK_WEBHOOK = "https://hooks.slack.com/services/T0" + "1234567/B01234567/abcdefghijklmnopqrstuvwx"


def test_a_lowercase_kind_secret_with_base64_data_blocks() -> None:
    value = base64.b64encode(b"s3cr3t-db-password").decode()
    plan = plan_of(
        [{"apiVersion": "v1", "kind": "secret", "metadata": {"name": "db"}, "data": {"password": value}}]
    )
    [finding] = secrets(plan)
    assert finding.blocks and "plaintext Secret" in finding.message
    assert value not in str(finding.to_dict())


def source(tmp_path: Path, files: Mapping[str, str | bytes]) -> Path:
    """A checkout root holding ``files`` under the helper app's source path (apps/orders)."""
    write_files(tmp_path / "apps" / "orders", files)
    return tmp_path


def raw(
    tmp_path: Path, files: Mapping[str, str | bytes], objects: list[dict[str, Any]] | None = None
) -> list[Finding]:
    root = source(tmp_path, files)
    return run_guards(plan=plan_of(objects or []), context=context(root=root), only={"secrets"})


def test_every_file_of_the_source_is_scanned_naming_file_line_key_and_detector(tmp_path: Path) -> None:
    findings = raw(
        tmp_path,
        {
            "README.md": f"# orders\n\nDeploy with\n\n    export GITHUB_TOKEN={GITHUB_TOKEN}\n",
            "values.yaml": f"image: orders\nnotify:\n  webhook: {SLACK_WEBHOOK}\n",
            "misspelled.yaml": "apiVersion: v1\nkind: Secrets\nmetadata: {name: db}\n"
            "stringData:\n  password: Tr0ub4dor&3-horse-staple\n",
        },
    )
    assert all(f.blocks and f.guard == "secrets" for f in findings)
    where = {(f.subject, f.field) for f in findings}
    assert where == {
        ("File/apps/orders/README.md", "line 5 GITHUB_TOKEN"),
        ("File/apps/orders/values.yaml", "line 3 webhook"),
        ("File/apps/orders/misspelled.yaml", "line 5 password"),
    }, where
    text = " ".join(str(f) + str(f.to_dict()) for f in findings)
    for value in (GITHUB_TOKEN, SLACK_WEBHOOK, "Tr0ub4dor", "B01234567"):
        assert value not in text
    assert "GitHub Token" in text and "Slack Token" in text and "Secret Keyword" in text


def test_binary_files_and_git_metadata_are_skipped_and_oversized_files_reported(tmp_path: Path) -> None:
    findings = raw(
        tmp_path,
        {
            "logo.bin": b"\x89PNG\x00\x01" + GITHUB_TOKEN.encode(),
            "huge.txt": "x" * (2 * 1024 * 1024) + f"\ntoken = {GITHUB_TOKEN}\n",
            ".git/config": f"[remote]\n  url = https://u:{GITHUB_TOKEN}@example.com/r\n",
        },
    )
    [warning] = findings
    assert not warning.blocks and warning.subject == "File/apps/orders/huge.txt"
    assert "not scanned" in warning.message and GITHUB_TOKEN not in str(warning)


def test_a_secret_found_in_an_object_is_reported_once(tmp_path: Path) -> None:
    """The object-aware finding (which names the object) stands; the raw line is not a second one."""
    value = base64.b64encode(b"s3cr3t-db-password").decode()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": value}}
    text = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\ndata:\n  password: {value}\n"
    findings = raw(tmp_path, {"secret-db.yaml": text}, objects=[secret])
    assert [(f.subject, f.field) for f in findings] == [("Secret/db", "data")]


def test_detect_secrets_filters_are_applied_to_values() -> None:
    assert detect("GIT_SHA", GIT_SHA) == []
    assert detect("SECRET_NAME", "db-credentials") == []
    assert detect("allowlisted_id", "a7f3c8e9d2b1f4e6a8c7d9e2f1b3a4c5") == []  # detect-secrets' id heuristic
    assert detect("DB_PASSWORD", "${DB_PASSWORD}") == []  # templated
    assert detect("API_KEY", "{{ .Values.apiKey }}") == []
    # real credentials still count
    assert detect("DB_PASSWORD", "Tr0ub4dor&3-horse-staple") == ["Secret Keyword"]
    assert "AWS Access Key" in detect("AWS_KEY", "AKIAIOSFODNN7EXAMPLE")
    assert "GitHub Token" in detect("GIT_TOKEN", GITHUB_TOKEN)


def test_a_commit_sha_and_a_secret_name_in_env_pass_in_objects_and_in_files(tmp_path: Path) -> None:
    workload = deployment("orders", env={"GIT_SHA": GIT_SHA, "SECRET_NAME": "db-credentials"})
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: orders}\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: app\n          env:\n"
        f"            - name: GIT_SHA\n              value: {GIT_SHA}\n"
        "            - {name: SECRET_NAME, value: db-credentials}\n"
        "            - name: allowlisted_id\n              value: a7f3c8e9d2b1f4e6a8c7d9e2f1b3a4c5\n"
        "            - name: PASSWORD_FILE\n              value: /run/secrets/db/password\n"
    )
    assert raw(tmp_path, {"deployment.yaml": text}, objects=[workload]) == []


def test_env_name_value_pairs_in_files_are_read_as_key_and_value(tmp_path: Path) -> None:
    """``- name: DB_PASSWORD`` then ``value: …`` is one key and its value, as in an object."""
    text = (
        "env:\n  - name: LOG_LEVEL\n    value: info\n"
        "  - name: DB_PASSWORD\n    value: Tr0ub4dor&3-horse-staple\n"
    )
    [finding] = raw(tmp_path, {"values.yaml": text})
    assert (finding.subject, finding.field) == ("File/apps/orders/values.yaml", "line 5 DB_PASSWORD")


def test_the_allowlist_pragma_is_honoured(tmp_path: Path) -> None:
    text = "password: Tr0ub4dor&3-horse-staple  # pragma: allowlist secret\n"
    assert raw(tmp_path, {"values.yaml": text}) == []


def test_sealed_and_sops_ciphertext_in_files_pass(tmp_path: Path) -> None:
    sealed = load(CORPUS / "sealedsecret-config.json")
    sops = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: sops}\ndata:\n"
        "  password: ENC[AES256_GCM,data:Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1u,"
        "iv:4p3hA9Jx0f2Zkq8W,"
        "tag:Q2xhc3NpZmllZCBieSBTT1BTIQ==,type:str]\nsops: {version: 3.8.1}\n"
    )
    files = {
        "sealedsecret-mysecret.yaml": (CORPUS / "sealedsecret-config.json").read_text(),
        "sops.yaml": sops,
    }
    assert raw(tmp_path, files, objects=sealed) == []


def test_our_filters_never_pass_a_known_token_format() -> None:
    for key in ("SECRET_NAME", "GIT_SHA", "publicToken", "existingSecret"):
        assert "GitHub Token" in detect(key, GITHUB_TOKEN), key


def test_the_allowlist_nextline_pragma_is_honoured(tmp_path: Path) -> None:
    text = "# pragma: allowlist nextline secret\npassword: Tr0ub4dor&3-horse-staple\n"
    assert raw(tmp_path, {"values.yaml": text}) == []


def test_a_secret_manifest_that_does_not_parse_still_blocks(tmp_path: Path) -> None:
    """Tab-indented YAML will not render, but its data is in Git all the same (gitleaks' sample)."""
    text = "apiVersion: v1\nkind: secret\ndata:\n\textra: YWRtaW46cGFzc3dvcmQ=\nmetadata:\n\tname: sa\n"
    [finding] = raw(tmp_path, {"secret.yaml": text})
    assert (finding.subject, finding.field) == ("File/apps/orders/secret.yaml", "line 4 extra")
    assert "Kubernetes Secret" in finding.message and "YWRtaW46" not in str(finding)


def test_dotenv_assignments_are_read_as_key_and_value(tmp_path: Path) -> None:
    text = f"LOG_LEVEL=info\nAPP_VERSION={GIT_SHA}\nexport DB_PASSWORD=Tr0ub4dor-3-horse-staple\n"
    [finding] = raw(tmp_path, {".env": text})
    assert (finding.subject, finding.field) == ("File/apps/orders/.env", "line 3 DB_PASSWORD")


def test_a_file_finding_is_overridden_by_its_name(tmp_path: Path) -> None:
    findings = raw(tmp_path, {"README.md": f"token: {GITHUB_TOKEN}\n"})
    allow = parse_allow("secrets:File/apps/orders/README.md", reason="a revoked example token")
    blocking, overridden = apply_overrides(findings, [allow], [])
    assert blocking == [] and [o.finding.subject for o in overridden] == ["File/apps/orders/README.md"]


def test_a_standing_exception_names_a_file_finding(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from plumbline.config import GuardException
    from plumbline.guards import decide

    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    findings = raw(tmp_path, {"README.md": f"token: {GITHUB_TOKEN}\n"})
    spec = {
        "app": "orders",
        "guard": "secrets",
        "target": {"kind": "File", "name": "apps/orders/README.md"},
        "reason": "a revoked example token, kept to show the format",
        "owner": "team-orders",
        "expires": "2027-01-31",
    }
    exception = GuardException.model_validate(
        {
            "apiVersion": "plumbline.dev/v1alpha1",
            "kind": "GuardException",
            "metadata": {"name": "x"},
            "spec": spec,
        },
        context={"now": now},
    )
    verdict = decide(findings, exceptions=[exception], now=now)
    assert findings and verdict.blocking == []
