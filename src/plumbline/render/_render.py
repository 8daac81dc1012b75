"""``render``: pick the renderer for an app path and check what it produced."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from plumbline.config import Tool
from plumbline.errors import RenderError, SourceError
from plumbline.render._helm import HelmOptions, render_helm
from plumbline.render._kustomize import kustomization_file, render_kustomize
from plumbline.render._manifest import Manifest, check_unique
from plumbline.render._plain import render_plain
from plumbline.source import safe_join

_done = 0
_done_lock = threading.Lock()


def render_count() -> int:
    """How many renders :func:`render` has run in this process (a render kept in a
    :class:`~plumbline.render.RenderCache` and used again is not one): what shows the cache works."""
    return _done


def detect(directory: Path) -> Tool:
    """The renderer ``Tool.AUTO`` picks for ``directory`` (never AUTO itself); a kustomization wins
    over a Chart.yaml."""
    if kustomization_file(directory) is not None:
        return Tool.KUSTOMIZE
    if (directory / "Chart.yaml").is_file():
        return Tool.HELM
    return Tool.PLAIN


def chosen_tool(tool: Tool | str, directory: Path) -> Tool:
    """``tool`` as the vocabulary's member, ``Tool.AUTO`` resolved for ``directory`` by :func:`detect`;
    RenderError for a word that is no tool."""
    try:
        named = Tool(tool)
    except ValueError:
        raise RenderError(f"unknown render tool {tool!r}; use auto, plain, kustomize or helm") from None
    return detect(directory) if named is Tool.AUTO else named


def render(
    root: Path,
    path: str,
    *,
    tool: Tool = Tool.AUTO,
    helm: HelmOptions | None = None,
    namespace: str | None = None,
    allow_remote: Sequence[str] = (),
) -> list[Manifest]:
    """The objects the app at ``path`` (relative to the checkout ``root``) renders to.

    ``root`` should come from :func:`plumbline.source.fetch`, whose checkouts hold no symlink that
    leaves them; the paths render builds itself (app path, value files, kustomize bases, plain files)
    are checked again here.

    ``path`` must lead to a folder inside ``root`` (``""`` or ``"."`` is the root itself); ``..``
    or symlinks that leave it are refused. ``helm`` is needed to render a chart (for an App:
    :func:`~plumbline.render.helm_options`, so every render of it uses the same release name).
    ``namespace`` is passed to Helm as the release namespace and otherwise unused. ``allow_remote``
    holds the URL globs of the App's Project ``spec.allowRemoteSources``: remote kustomize bases
    and Helm dependencies matching none of them are refused (renders are offline).

    An empty result is returned as it is (an empty folder renders nothing); deciding whether an
    empty render may be applied is for later stages. Raises :class:`RenderError`.
    """
    real_root = Path(os.path.realpath(root))
    try:
        directory = safe_join(real_root, path)
    except SourceError as error:
        raise RenderError(f"app path: {error}") from None
    shown = directory.relative_to(real_root).as_posix()
    if not directory.is_dir():
        what = "is a file" if directory.exists() else "does not exist"
        raise RenderError(f"app path {path!r} {what} in the repository; it must be a folder")
    chosen = chosen_tool(tool, directory)
    global _done
    with _done_lock:
        _done += 1
    if chosen is Tool.KUSTOMIZE:
        manifests = render_kustomize(real_root, directory, allow_remote=allow_remote)
    elif chosen is Tool.HELM:
        if helm is None:
            # A default here would be a second release-name rule, disagreeing with the App's.
            raise RenderError(
                f"app path {shown!r} is a Helm chart, but no Helm options (release name) were given"
            )
        manifests = render_helm(
            real_root, directory, options=helm, namespace=namespace, allow_remote=allow_remote
        )
    else:
        manifests = render_plain(real_root, directory)
    check_unique(manifests)
    return manifests
