"""Flux 2.7's ``ArtifactGenerator``: which part of a Git repository an ``ExternalArtifact`` stands for.

A Kustomization that reads an ``ExternalArtifact`` can be imported when the generator builds that
artifact by copying whole folders of one GitRepository and keeps their layout: every copy is
``@alias/<prefix>/<folder>/**`` → ``@artifact/<folder>/`` with one ``<prefix>``. The artifact is then
the repository's ``<prefix>`` folder (what a Kustomization refers to with ``../`` stays where it was),
and the Kustomization's ``path`` is ``<prefix>/<path>`` in the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plumbline.migrate._report import Abandon, Path, Reading

GROUP = "source.extensions.fluxcd.io"

_FROM = re.compile(r"@([^/]+)/(?:(.*?)/)?\*\*")
_TO = re.compile(r"@artifact/?(.*)")


@dataclass
class Artifact:
    """One artifact of a generator: the GitRepository (namespace, name) and the folder it stands for;
    ``why`` instead when it stands for no single folder."""

    generator: Reading
    index: int
    git: tuple[str, str] | None = None
    prefix: str = ""
    why: str = ""
    users: list[str] = field(default_factory=list)

    @property
    def base(self) -> Path:
        return ("spec", "artifacts", self.index)


def artifacts(readings: list[Reading]) -> dict[tuple[str, str], Artifact]:
    """Every artifact of every ArtifactGenerator in ``readings``, by (namespace, name)."""
    found: dict[tuple[str, str], Artifact] = {}
    for g in readings:
        if g.kind != "ArtifactGenerator" or not str(g.obj.get("apiVersion", "")).startswith(GROUP + "/"):
            continue
        namespace = g.namespace or "default"
        aliases: dict[str, tuple[str, str] | None] = {}
        for i, _ in enumerate(g.get(("spec", "sources"), list, []) or []):
            source: Path = ("spec", "sources", i)
            alias = g.get((*source, "alias"), str, "") or ""
            git = g.get((*source, "kind"), str) == "GitRepository"
            name = g.get((*source, "name"), str, "") or ""
            aliases[alias] = (g.get((*source, "namespace"), str) or namespace, name) if git else None
        for i, _ in enumerate(g.get(("spec", "artifacts"), list, []) or []):
            name = g.get(("spec", "artifacts", i, "name"), str, "") or ""
            found[(namespace, name)] = _artifact(g, i, aliases)
    return found


def _artifact(g: Reading, index: int, aliases: dict[str, tuple[str, str] | None]) -> Artifact:
    art = Artifact(g, index)
    copies = g.get((*art.base, "copy"), list, []) or []
    prefixes, used = set(), set()
    for j, _ in enumerate(copies):
        source = _FROM.fullmatch(g.get((*art.base, "copy", j, "from"), str, "") or "")
        target = _TO.fullmatch(g.get((*art.base, "copy", j, "to"), str, "") or "")
        if source is None or target is None:
            art.why = "a copy that is not a whole folder (@alias/folder/** to @artifact/folder/)"
            return art
        folder, into = (source[2] or "").strip("/"), target[1].strip("/")
        if into and not (folder == into or folder.endswith("/" + into)):
            art.why = f"copies {folder or '/'} to {into}: the folder layout of the repository is not kept"
            return art
        prefixes.add(folder[: len(folder) - len(into)].rstrip("/") if into else folder)
        used.add(source[1])
    if len(prefixes) != 1 or len(used) != 1:
        art.why = "made of several folders or repositories that do not keep one repository's layout"
        return art
    git = aliases.get(used.pop())
    if git is None:
        art.why = "copied from a source that is not a GitRepository"
        return art
    art.git, art.prefix = git, prefixes.pop()
    return art


def mark(art: Artifact) -> None:
    """The generator's fields for this artifact: carried into the Apps that use it, or not, and why."""
    g = art.generator
    if not art.users or art.why:
        why = art.why or "no Kustomization in the input uses this artifact"
        g.drop(art.base, f"{why}: nothing written from it")
        return
    apps = ", ".join(f"App/{u}" for u in dict.fromkeys(art.users))
    g.carry((*art.base, "name"), apps, "named by their sourceRef")
    g.carry((*art.base, "copy"), f"{apps} spec.source.path", f"the repository's folder {art.prefix or '/'}")
    g.carry(
        (*art.base, "originRevision"), f"{apps} spec.source.targetRevision", "the GitRepository's revision"
    )
    for j, _ in enumerate(g.get((*art.base, "copy"), list, []) or []):
        g.drop((*art.base, "copy", j, "exclude"), "plumbline renders every file below the App's path")
        g.drop((*art.base, "copy", j, "strategy"), "plumbline reads the repository's files as they are")


def finish(generator: Reading, found: list[Artifact]) -> None:
    """The generator's report once its artifacts are marked: its sources are carried if one is used."""
    users = [u for art in found if not art.why for u in art.users]
    if not users:
        raise Abandon("no Kustomization in the input uses an artifact of it: nothing written")
    for i, _ in enumerate(generator.get(("spec", "sources"), list, []) or []):
        generator.carry(("spec", "sources", i), "the Apps' spec.source", "the repository the artifacts copy")
    generator.written.extend(f"App/{u}" for u in dict.fromkeys(users))
    generator.drop(
        ("metadata",), "plumbline has no generator: its artifacts became folders of the repository"
    )
