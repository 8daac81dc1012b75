"""plumbline configuration as tests write it: one App document, in the YAML a user would write."""

from __future__ import annotations

API = "plumbline.dev/v1alpha1"


def app_yaml(
    name: str,
    *,
    namespace: str,
    path: str = "app",
    mode: str = "sync",
    repo: str = "./repo",
    project: str | None = None,
    environment: str | None = None,
    create_namespace: bool = False,
    source_extra: str = "",
) -> str:
    """An App named ``name`` rendering ``path`` of ``repo``'s ``main`` into ``namespace``, synced in
    ``mode``. ``source_extra`` is YAML added to its ``spec.source``, indented by four spaces."""
    project_line = f"  project: {project}\n" if project else ""
    project_line += f"  environment: {environment}\n" if environment else ""
    options = "  syncOptions:\n    createNamespace: true\n" if create_namespace else ""
    return f"""apiVersion: {API}
kind: App
metadata:
  name: {name}
spec:
{project_line}  source:
    repoURL: {repo}
    targetRevision: main
    path: {path}
{source_extra}  destination:
    namespace: {namespace}
{options}  mode: {mode}
"""


REMOTE_APPS = """apiVersion: plumbline.dev/v1alpha1
kind: App
metadata:
  name: shop
spec:
  source:
    repoURL: https://github.com/acme/shop.git
  destination:
    namespace: shop
---
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata:
  name: blog
spec:
  source:
    repoURL: git@gitlab.example.com:acme/blog.git
  destination:
    namespace: blog
"""
"""Apps ``shop`` (on GitHub) and ``blog`` (on GitLab, over SSH), for tests that route by repository URL
and never fetch."""


SEED01_ENVIRONMENTS = f"""\
apiVersion: {API}
kind: Environment
metadata: {{name: test}}
spec: {{branches: [test, "feature/*"]}}
---
apiVersion: {API}
kind: Environment
metadata: {{name: prod}}
spec: {{branches: [main], protected: true}}
"""
"""Seed 01's environments: ``test`` takes ``test`` and ``feature/*``, ``prod`` only ``main``."""


def seed01_infra_config(
    *, name: str, repo: str, path: str, namespace: str, protect: str, terraform: str, project_extra: str = ""
) -> str:
    """Seed 01's configuration for an app with Terraform: Project ``name`` (its ``spec.terraform`` is
    ``protect``, YAML flow), :data:`SEED01_ENVIRONMENTS`, and App ``name`` in ``test`` rendering ``path``
    of ``repo`` into ``namespace``, with ``spec.terraform`` ``terraform`` (YAML flow)."""
    return f"""apiVersion: {API}
kind: Project
metadata: {{name: {name}}}
spec:
  destinations: [{{namespace: {namespace}}}]
  terraform: {protect}
{project_extra}---
{SEED01_ENVIRONMENTS}---
apiVersion: {API}
kind: App
metadata: {{name: {name}}}
spec:
  project: {name}
  environment: test
  source: {{repoURL: {repo}, targetRevision: main, path: {path}}}
  destination: {{namespace: {namespace}}}
  terraform: {terraform}
"""


def instance_yaml(name: str, *, store: str = "") -> str:
    """The Instance ``name``; ``store`` is its ``spec.store`` as a YAML flow mapping (``{backend: ...}``)."""
    spec = f"spec:\n  store: {store}\n" if store else ""
    return f"apiVersion: {API}\nkind: Instance\nmetadata:\n  name: {name}\n{spec}"
