"""Whole worlds the integration tests run plumb or the controller in: a Git repository, plumbline's
configuration pointing at it, a store, the session's control plane."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.config import load_config
from plumbline.controller import Controller, Settings
from plumbline.local import ControlPlane
from plumbline.store import Store
from tests.support import cli
from tests.support.config import app_yaml
from tests.support.git import commit_all, git


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


class Workspace:
    """A Git repository, a plumbline config pointing at it, and a `plumb` to run against the cluster."""

    def __init__(self, root: Path, plane: ControlPlane) -> None:
        self.root = root
        self.repo = root / "repo"
        self.repo.mkdir()
        git(self.repo, "init", "-q", "-b", "main")
        self.config = root / "plumbline.yaml"
        self.env = cli.plumb_env(
            kubeconfig=plane.kubeconfig, config=self.config, store=root / "plumbline.db", actor="tester@ci"
        )
        self.apps: list[str] = []

    def add_app(self, name: str, path: str, namespace: str, extra: str = "") -> None:
        self.apps.append(
            "---\n"
            + app_yaml(name, namespace=namespace, path=path, create_namespace=True, source_extra=extra)
        )
        self.config.write_text("".join(self.apps))

    def commit(self, message: str) -> str:
        return commit_all(self.repo, message)

    def plumb(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli.plumb(*args, env=self.env)


class Site:
    """A Git repo with one ConfigMap app, its plumbline config, a store and a cluster connection."""

    def __init__(self, root: Path, plane: ControlPlane, namespace: str, mode: str) -> None:
        self.root, self.namespace, self.mode = root, namespace, mode
        self.app = f"app-{uuid.uuid4().hex[:6]}"
        self.repo = root / "repo"
        (self.repo / "app").mkdir(parents=True)
        git(self.repo, "init", "-q", "-b", "main")
        self.write_config_map("LOG_LEVEL", "info")
        self.commit("first")
        self.config = root / "plumbline.yaml"
        self.config.write_text(app_yaml(self.app, namespace=namespace, mode=mode))
        self.store_path = root / "plumbline.db"
        self.store = Store.open(self.store_path)
        self.cluster = Cluster(kubeconfig=plane.kubeconfig)
        self.kubeconfig = plane.kubeconfig
        self.lease_namespace = f"pl-{uuid.uuid4().hex[:8]}"

    def write_config_map(self, key: str, value: str) -> None:
        (self.repo / "app" / "env.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: env\ndata:\n  {key}: {value}\n"
        )

    def commit(self, message: str) -> str:
        return commit_all(self.repo, message)

    def declare(self, namespace: str, **changes: Any) -> dict[str, Any]:
        """The site's App as an object in ``namespace`` (its repository by absolute path), applied as
        ``kubectl apply --server-side`` would; ``changes`` are app_yaml's. The App as stored."""
        from plumbline.yamlio import load_documents

        text = app_yaml(
            self.app, namespace=self.namespace, repo=str(self.repo), **{"mode": self.mode, **changes}
        )
        (document,) = load_documents(text, file="app")
        obj: dict[str, Any] = {**document.data, "metadata": {"name": self.app, "namespace": namespace}}
        info = self.cluster.discovery.lookup(obj["apiVersion"], "App")
        assert info is not None, "plumbline's CRDs are not installed (fixture plumbline_crds)"
        stored = self.cluster.apply(obj, info=info, field_manager="kubectl")
        assert stored is not None
        return stored

    def controller(self, *, from_cluster: str | None = None, **settings: Any) -> Controller:
        """A controller of the site's app, configured from the file, or ``from_cluster`` (a namespace:
        the Apps there, see :meth:`declare`, read leniently as ``plumb controller`` does; each App's
        status is written back)."""
        options = Settings(
            identity=settings.pop("identity", "replica-a"),
            lease_namespace=self.lease_namespace,
            kubeconfig=str(self.kubeconfig),
            watch=settings.pop("watch", False),
            backoff_base_s=settings.pop("backoff_base_s", 0.0),
            **settings,
        )
        if from_cluster is not None:
            return Controller(
                config=lambda: engine.cluster_config(self.cluster, from_cluster, lenient=True),
                store=self.store,
                settings=options,
                apps_in=self.cluster,
            )
        return Controller(config=lambda: load_config(self.config), store=self.store, settings=options)

    def live(self) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.cluster.request(
                "GET", f"/api/v1/namespaces/{self.namespace}/configmaps/env"
            )
        except Exception:
            return None
        return obj

    def edit(self, key: str, value: str) -> None:
        """What `kubectl edit` does: an update by another field manager."""
        self.cluster.request(
            "PATCH",
            f"/api/v1/namespaces/{self.namespace}/configmaps/env",
            query={"fieldManager": "kubectl-edit"},
            body={"data": {key: value}},
            content_type="application/merge-patch+json",
        )

    def env(self) -> dict[str, str]:
        return cli.plumb_env(
            kubeconfig=self.kubeconfig, config=self.config, store=self.store_path, actor="oncall@ci"
        )

    def plumb(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli.plumb(*args, env=self.env())

    def close(self) -> None:
        self.store.close()
        self.cluster.close()


class Receiver:
    """A real HTTP endpoint that keeps every JSON body POSTed to it, by path."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received: list[tuple[str, dict[str, Any]]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def one(controller: Controller) -> Any:
    (outcome,) = controller.run_once()
    return outcome
