"""Helm: ``helm template RELEASE CHART --include-crds --skip-tests [-f FILE ...]``, offline.

* Value files are relative to the chart folder (as Argo CD takes them) and must lead inside the
  repository: a value file is how Argo CD's CVE-2022-24348 read other apps' secrets. URLs are
  refused too: a render reads Git, nothing else.
* Inline ``values`` are written to a temporary file and passed last, so they win over value files.
* Nothing touches the user's Helm setup (see :mod:`._run`), and nothing is downloaded: a chart whose
  dependencies are not vendored in ``charts/`` fails with Helm's own message saying which.
* ``--skip-tests``: test hooks are for ``helm test``, not objects to keep in a cluster. Other hooks
  are rendered like any object; what to do with them is the sync stage's business.
"""

from __future__ import annotations

import json
import posixpath
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plumbline import toolchain
from plumbline.errors import RenderError, SourceError
from plumbline.render._manifest import Manifest, manifests_from
from plumbline.render._run import isolated_env, run
from plumbline.render._stream import split_documents
from plumbline.source._paths import safe_join
from plumbline.yamlio import load_documents

_SOURCE = re.compile(r"^# Source: (\S.*?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class HelmOptions:
    """How to render a chart: the release name, value files (relative to the chart) and inline values."""

    release_name: str
    value_files: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)


def render_helm(
    root: Path, directory: Path, *, options: HelmOptions, namespace: str | None
) -> list[Manifest]:
    """Template the chart in ``directory`` (resolved, inside ``root``)."""
    rel = directory.relative_to(root).as_posix()
    value_files = [_value_file(root, rel, name) for name in options.value_files]
    helm = toolchain.binary("helm")
    with tempfile.TemporaryDirectory(prefix="plumbline-helm-") as tmp:
        scratch = Path(tmp)
        cmd = [str(helm), "template", options.release_name, str(directory), "--include-crds", "--skip-tests"]
        if namespace:
            cmd += ["--namespace", namespace]
        for path in value_files:
            cmd += ["--values", str(path)]
        if options.values:
            inline = scratch / "inline-values.json"
            inline.write_text(json.dumps(options.values))
            cmd += ["--values", str(inline)]
        output = run(
            cmd,
            what=f"helm template {rel}",
            cwd=directory,
            env=isolated_env(scratch),
            scratch=scratch,
            root=root,
        )
    return _parse(output, chart_dir=rel)


def _value_file(root: Path, chart_dir: str, name: str) -> Path:
    if "://" in name:
        raise RenderError(f"helm value file {name!r}: only files from inside the repository are allowed")
    try:
        path = safe_join(root, posixpath.join(chart_dir, name))
    except SourceError as error:
        raise RenderError(f"helm value file {name!r} (relative to {chart_dir}): {error}") from None
    if not path.is_file():
        raise RenderError(
            f"helm value file {name!r} (relative to {chart_dir}) does not exist in the repository"
        )
    return path


def _parse(output: str, *, chart_dir: str) -> list[Manifest]:
    """Objects from ``helm template`` output, each attributed to its template file in the repository.

    ``# Source: mychart/templates/web.yaml`` names the chart (its Chart.yaml name, not the folder's)
    then the path inside it; the file becomes ``<chart_dir>/templates/web.yaml``.
    """
    manifests: list[Manifest] = []
    per_source: dict[str, int] = {}
    for n, text in enumerate(split_documents(output)):
        match = _SOURCE.search(text)
        if match:
            inside = match.group(1).partition("/")[2] or match.group(1)
            file = posixpath.normpath(posixpath.join(chart_dir, inside))
        else:
            file = chart_dir
        shown = f"{file} (helm output, document {n + 1})"
        for document in load_documents(text, file=shown):
            index = per_source.get(file, 0)
            per_source[file] = index + 1
            for manifest in manifests_from(document, file=file):
                manifests.append(Manifest(obj=manifest.obj, file=file, index=index))
    return manifests
