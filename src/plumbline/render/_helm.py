"""Helm: ``helm template RELEASE CHART --include-crds --skip-tests [-f FILE ...]``, offline.

* The release name and the rest of an App's settings come from :func:`helm_options`, the one place
  they are derived from an App (release name: :attr:`plumbline.config.App.release_name`).
* Value files are paths relative to the repository root (as the App's ``helm.valueFiles`` documents
  them), not to the chart, and must lead inside the repository: a value file is how Argo CD's
  CVE-2022-24348 read other apps' secrets. URLs are refused too: a render reads Git, nothing else.
* Inline ``values`` are written to a temporary file and passed last, so they win over value files.
* Nothing touches the user's Helm setup (see :mod:`._run`), and nothing is downloaded: a dependency
  in ``Chart.yaml`` with a remote ``repository`` that is not vendored in ``charts/`` is refused,
  naming it, unless the App's Project lists it in ``spec.allowRemoteSources``; only then is
  ``helm dependency update`` run (on a copy of the chart, with network access) before the template.
* A chart that renders differently every time (``randAlphaNum``, ``genCA``, ``uuidv4``, ``now`` ...,
  often behind ``lookup``, which finds nothing offline) would never converge: when a template calls
  such a function the chart is rendered twice, and if the two differ the render is refused, naming
  the objects and fields that change (never their values) and the ``lookup`` calls.
* ``--skip-tests``: test hooks are for ``helm test``, not objects to keep in a cluster. Other hooks
  are rendered like any object; what to do with them is the sync stage's business.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plumbline import toolchain
from plumbline.errors import RemoteSourceRefused, RenderError, SourceError
from plumbline.render._manifest import Manifest, manifests_from
from plumbline.render._remote import REMOTE_HINT, allowed, is_url
from plumbline.render._run import isolated_env, run
from plumbline.render._stream import split_documents
from plumbline.source import safe_join
from plumbline.yamlio import YamlError, load_documents

if TYPE_CHECKING:
    from plumbline.config import App

_SOURCE = re.compile(r"^# Source: (\S.*?)\s*$", re.MULTILINE)
# Template functions whose result differs from one render to the next (Sprig's random and crypto
# generators, the clock). A chart calling one is rendered twice to see whether its output changes.
_CHANGING = re.compile(
    r"\b(randAlphaNum|randAlpha|randNumeric|randAscii|randBytes|randInt|uuidv4|genPrivateKey|genCA"
    r"|genCAWithKey|genSelfSignedCert|genSelfSignedCertWithKey|genSignedCert|genSignedCertWithKey"
    r"|derivePassword|htpasswd|bcrypt|shuffle|now)\b"
)
_LOOKUP = re.compile(r"\blookup\b")
_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)


@dataclass(frozen=True)
class HelmOptions:
    """How to render a chart: the release name, value files (relative to the repository root) and
    inline values. Build them for an App with :func:`helm_options`."""

    release_name: str
    value_files: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)


def helm_options(app: App) -> HelmOptions:
    """The Helm options every render of ``app`` uses (sync, diff, check, capture): its release name
    (:attr:`App.release_name`), value files and inline values."""
    settings = app.spec.source.helm
    return HelmOptions(
        release_name=app.release_name,
        value_files=tuple(settings.value_files) if settings else (),
        values=dict(settings.values) if settings else {},
    )


def value_file_path(name: str) -> str:
    """The repository-relative path of the value file ``name``, normalised; RenderError for a URL or
    an absolute path or one that leaves the repository (before any file is looked at)."""
    if "://" in name:
        raise RenderError(f"helm value file {name!r}: only files from inside the repository are allowed")
    normal = posixpath.normpath(name)
    if posixpath.isabs(name) or normal == ".." or normal.startswith("../"):
        what = "is absolute" if posixpath.isabs(name) else "leads outside the repository"
        raise RenderError(
            f"helm value file {name!r} {what}; value files are paths relative to the repository root"
        )
    return normal


def render_helm(
    root: Path,
    directory: Path,
    *,
    options: HelmOptions,
    namespace: str | None,
    allow_remote: Sequence[str] = (),
) -> list[Manifest]:
    """Template the chart in ``directory`` (resolved, inside ``root``).

    ``allow_remote``: URL globs of chart repositories whose dependencies may be downloaded.
    """
    rel = directory.relative_to(root).as_posix()
    value_files = [_value_file(root, rel, name) for name in options.value_files]
    fetch = _remote_dependencies(directory, rel, allow_remote)
    changing = _calls(directory, _CHANGING)
    helm = toolchain.binary("helm")
    with tempfile.TemporaryDirectory(prefix="plumbline-helm-") as tmp:
        scratch = Path(tmp)
        chart = directory
        if fetch:
            # The download goes into charts/; the checkout is shared, so it goes into a copy.
            chart = scratch / "chart"
            shutil.copytree(directory, chart, symlinks=True)
            home = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
            run(
                [str(helm), "dependency", "update", str(chart)],
                what=f"helm dependency update {rel} (allowed: {', '.join(fetch)})",
                cwd=chart,
                env=isolated_env(home, network=True),
                scratch=home,
                root=root,
                failure_output=True,
            )
        cmd = [str(helm), "template", options.release_name, str(chart), "--include-crds", "--skip-tests"]
        if namespace:
            cmd += ["--namespace", namespace]
        for path in value_files:
            cmd += ["--values", str(path)]
        if options.values:
            inline = scratch / "inline-values.json"
            inline.write_text(json.dumps(options.values))
            cmd += ["--values", str(inline)]

        def template() -> str:
            home = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
            return run(
                cmd,
                what=f"helm template {rel}",
                cwd=chart,
                env=isolated_env(home),
                scratch=home,
                root=root,
            )

        output = template()
        second = template() if changing else output
    manifests = _parse(output, chart_dir=rel)
    if second != output:
        _refuse_changing(rel, manifests, _parse(second, chart_dir=rel), changing, _calls(directory, _LOOKUP))
    return manifests


def _value_file(root: Path, chart_dir: str, name: str) -> Path:
    relative = value_file_path(name)
    try:
        path = safe_join(root, relative)
    except SourceError as error:
        raise RenderError(f"helm value file {name!r}: {error}") from None
    if not path.is_file():
        hint = ""
        beside = posixpath.normpath(posixpath.join(chart_dir, name))
        if chart_dir not in ("", ".") and (root / beside).is_file():
            hint = f"; value files are relative to the repository root: did you mean {beside!r}?"
        raise RenderError(f"helm value file {name!r} does not exist in the repository{hint}")
    return path


def _remote_dependencies(directory: Path, rel: str, allow_remote: Sequence[str]) -> list[str]:
    """Repositories of dependencies that are not vendored in ``charts/`` (and may be fetched);
    RenderError for the first one ``allow_remote`` does not allow."""
    chart_file = directory / "Chart.yaml"
    shown = posixpath.join(rel, "Chart.yaml") if rel != "." else "Chart.yaml"
    try:
        documents = load_documents(chart_file.read_text(encoding="utf-8", errors="replace"), file=shown)
    except (OSError, YamlError):
        return []  # helm reports a broken Chart.yaml itself
    data = documents[0].data if documents else None
    dependencies = data.get("dependencies") if isinstance(data, dict) else None
    fetch: list[str] = []
    for dependency in dependencies if isinstance(dependencies, list) else []:
        if not isinstance(dependency, dict):
            continue
        name, repository = dependency.get("name"), dependency.get("repository")
        if not isinstance(name, str) or not isinstance(repository, str) or not repository:
            continue
        if repository.startswith("file://") or _vendored(directory, name):
            continue
        if not (is_url(repository) or repository.startswith(("@", "alias:"))):
            continue
        if not allowed(repository, allow_remote):
            raise RemoteSourceRefused(
                f"{shown}: dependency {name!r} comes from the remote repository {repository!r} and is not "
                f"vendored in {posixpath.join(rel, 'charts')}/; renders are offline, so it is not "
                f"downloaded. {REMOTE_HINT}"
            )
        fetch.append(repository)
    return fetch


def _vendored(directory: Path, name: str) -> bool:
    charts = directory / "charts"
    return (charts / name / "Chart.yaml").is_file() or any(charts.glob(f"{name}-*.tgz"))


def _calls(directory: Path, function: re.Pattern[str]) -> list[str]:
    """``file:line`` of each template action (in the chart and its unpacked subcharts) calling
    ``function``, relative to the chart folder."""
    found: list[str] = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if "templates" not in relative.parts or not path.is_file() or path.stat().st_size > 1 << 20:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for action in _ACTION.finditer(text):
            if function.search(action.group(0)):
                found.append(f"{relative.as_posix()}:{text.count(chr(10), 0, action.start()) + 1}")
    return found


def _refuse_changing(
    rel: str, first: list[Manifest], second: list[Manifest], calls: list[str], lookups: list[str]
) -> None:
    before = {m.key: m for m in first}
    after = {m.key: m for m in second}
    changed: list[str] = []
    for key in sorted(set(before) | set(after), key=str):
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            only = a if a is not None else b
            changed.append(f"{only.ref if only else key} (present in only one render)")
            continue
        fields = sorted(_differing(a.obj, b.obj))
        if fields:
            changed.append(f"{a.ref} ({a.file}): {', '.join(fields[:5])}{' ...' if len(fields) > 5 else ''}")
    where = ", ".join(posixpath.join(rel, c) for c in calls[:5])
    message = (
        f"helm template {rel} renders differently every time: "
        + "; ".join(changed[:10])
        + f". Applied, these would change on every sync and the app would never converge. The chart "
        f"generates values ({where})"
    )
    if lookups:
        shown = ", ".join(posixpath.join(rel, c) for c in lookups[:5])
        message += (
            f" and calls lookup ({shown}), which reads the cluster; plumbline renders offline, where "
            "lookup finds nothing, so the chart takes its generate-a-new-value path every time"
        )
    raise RenderError(
        message + ". Set those values explicitly (in a value file, or point the chart at an existing "
        "Secret) so the chart does not generate them."
    )


def _differing(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths of the fields that differ between ``a`` and ``b`` (values are not returned)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            found
            for key in sorted(set(a) | set(b), key=str)
            for found in _differing(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            found
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for found in _differing(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path or "(the whole object)"]


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
