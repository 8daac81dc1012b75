"""What every kind of capture shares: the work copy it edits and renders again, and how a field's
edit is made and checked."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plumbline.capture import _yamlfile as yf
from plumbline.capture._model import CapturePlan, FileEdit
from plumbline.config import Tool
from plumbline.errors import PlumbError, RemoteSourceRefused
from plumbline.plan.attribution import FieldChange
from plumbline.plan.fields import ABSENT, get_path, remove_path, set_value
from plumbline.plan.model import ObjectRef
from plumbline.render import HelmOptions, Manifest, render
from plumbline.source import safe_join


@dataclass
class Work:
    """One capture in progress: ``root``, a copy of the checkout that is edited and rendered again; the
    app's path, Helm options and release namespace; its rendered ``manifests``; the drifted fields of
    each (by index into ``manifests``); and the ``plan`` that collects what cannot be captured."""

    root: Path
    app_path: str
    helm: HelmOptions | None
    namespace: str | None
    manifests: list[Manifest]
    by_manifest: dict[int, list[FieldChange]]
    plan: CapturePlan
    allow_remote: Sequence[str] = ()

    def read(self, rel: str) -> str:
        return safe_join(self.root, rel).read_text(encoding="utf-8")

    def write(self, edit: FileEdit) -> None:
        path = safe_join(self.root, edit.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit.content, encoding="utf-8")

    def render(self, tool: Tool) -> list[Manifest] | PlumbError:
        """The work copy rendered with ``tool``, or why it does not render. A remote source the
        Project refuses is raised: that is the Project's decision, not a mapping that failed."""
        try:
            return render(
                self.root,
                self.app_path,
                tool=tool,
                helm=self.helm,
                namespace=self.namespace,
                allow_remote=self.allow_remote,
            )
        except RemoteSourceRefused:
            raise
        except PlumbError as error:
            return error

    def carried(self, tool: Tool, manifest: Manifest, changes: list[FieldChange]) -> list[FieldChange]:
        """Those of ``changes`` that ``manifest``'s object carries when the work copy is rendered again
        with ``tool`` (none if it does not render)."""
        objects = self.render(tool)
        built = (
            None
            if isinstance(objects, PlumbError)
            else next((o for o in objects if o.key == manifest.key), None)
        )
        return [c for c in changes if built is not None and carries(built.obj, c)]


@contextmanager
def work_copy(root: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="plumbline-capture-") as tmp:
        work = Path(tmp) / "repo"
        shutil.copytree(root, work, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        yield work


def manifest_for(manifests: list[Manifest], ref: ObjectRef) -> int | None:
    """The manifest for ``ref``. Rendered objects often have no namespace (the plan defaults it)."""
    for n, manifest in enumerate(manifests):
        if (manifest.group, manifest.kind, manifest.name) == (ref.group, ref.kind, ref.name) and (
            manifest.namespace is None or manifest.namespace == ref.namespace
        ):
            return n
    return None


def apply(document: Any, change: FieldChange) -> None:
    """Make the source ``document`` say what live says for ``change`` (its quoting kept)."""
    if change.live is None:
        remove_path(document, change.path, in_source=True)
    else:
        set_value(document, change.path, change.live, convert=yf.keep_quoting)


def carries(obj: dict[str, Any], change: FieldChange) -> bool:
    value = get_path(obj, change.path)
    if change.live is None:
        return value is ABSENT
    if isinstance(change.path[-1], dict) and isinstance(change.live, dict) and isinstance(value, dict):
        return all(value.get(k) == v for k, v in {**change.path[-1], **change.live}.items())
    return bool(value == change.live)
