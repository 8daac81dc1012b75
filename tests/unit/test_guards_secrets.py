"""Secrets: plaintext Secrets and secret-looking values block, never echoing the value; clean apps pass."""

from __future__ import annotations

import base64

from _guards_support import config_map, context, corpus, deployment, guestbook, plan_of

from plumbline.guards import run_guards
from plumbline.guards.secrets import detect

GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\n"


def secrets(plan):  # type: ignore[no-untyped-def]
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
