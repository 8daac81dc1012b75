"""Seed 04's app as tests commit it: users-api's settings (DB_HOST), its database password and its
Deployment (the image), one release at a time; and the same three read back from the cluster."""

from __future__ import annotations

import base64
import json
from typing import Any

from plumbline.cluster import Cluster
from plumbline.local import Fault
from tests.support.kwok import running_deployment

PRIMARY = "pgbouncer-primary.users.svc.cluster.local"  # the right DB_HOST (the live fix of seed 04)
STALE = "pgbouncer.users.svc.cluster.local"  # the chart's wrong one


def release(
    db_host: str, image: str, *, password: str | None = None, runs: bool = False, fault: Fault | None = None
) -> dict[str, str]:
    """The app's files at one commit. ``runs``: its Pods run on the session's KWOK nodes (and become
    Ready, unless ``fault``); ``password``: a Secret too (kept in Git on purpose)."""
    deployment: dict[str, Any] = running_deployment("users-api", replicas=1, fault=fault, tolerate=runs)
    deployment["spec"]["template"]["spec"]["containers"] = [{"name": "api", "image": image}]
    files = {
        "app/env.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: users-api-env\ndata:\n"
        f"  DB_HOST: {db_host}\n  LOG_LEVEL: info\n",
        "app/deployment.yaml": json.dumps(deployment) + "\n",
    }
    if password is not None:
        secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: users-api-db\n"
        files["app/db.yaml"] = secret + f"stringData:\n  password: {password}\n"
    return files


def live(cluster: Cluster, namespace: str, *, secret: bool = False) -> tuple[str, ...]:
    """(DB_HOST, the image[, the password]) as the cluster has them."""
    env = cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/users-api-env")
    deployment = cluster.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/users-api")
    found = (env["data"]["DB_HOST"], deployment["spec"]["template"]["spec"]["containers"][0]["image"])
    if not secret:
        return found
    data = cluster.request("GET", f"/api/v1/namespaces/{namespace}/secrets/users-api-db")["data"]
    return (*found, base64.b64decode(data["password"]).decode())
