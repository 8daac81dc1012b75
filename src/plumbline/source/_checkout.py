"""``fetch`` and ``resolve``: a repository and a revision in, an exact commit (and its tree) out."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from dulwich.objects import Commit, ObjectID
from dulwich.repo import Repo

from plumbline.errors import SourceError
from plumbline.paths import cache_dir
from plumbline.source import _git
from plumbline.source._materialise import Limits, materialise


@dataclass(frozen=True)
class Checkout:
    """The tree of one commit, on disk.

    ``repo`` and ``revision`` are as asked; ``sha`` is the commit they resolved to. ``root`` holds
    the tree at that commit and is shared by every caller asking for the same commit: treat it as
    read-only. ``author`` is ``Name <email>``; ``committed_at`` carries the committer's UTC offset.
    """

    repo: str
    revision: str
    sha: str
    root: Path
    message: str
    author: str
    committed_at: datetime


class Refs:
    """What each (repository, revision) resolved to, kept until :meth:`expire` or :meth:`forget`: the
    controller's, so one round asks each repository for its refs once per revision (expired at each
    poll, every interval), passes between polls (a watch event, an operation) ask the remote nothing,
    and a webhook for a repository (:meth:`forget`) makes the next pass ask at once.

    Kept by the mirror's key and looked up under the mirror's lock, so two workers asking for the same
    revision at once make one fetch: the second finds what the first resolved. A SHA kept is used only
    while the mirror still has that commit. ``fetched`` counts the resolutions that asked the remote."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], tuple[ObjectID, datetime]] = {}
        self._lock = threading.Lock()
        self.fetched = 0

    def expire(self) -> None:
        """Forget everything: the next pass over each revision asks its repository again."""
        with self._lock:
            self._known.clear()

    def forget(self, repo: str) -> None:
        """Forget what ``repo`` (a URL or path, as an App names it) resolved to (a push to it)."""
        try:
            key = _git.remote(repo).key
        except SourceError:
            return
        with self._lock:
            for known in [k for k in self._known if k[0] == key]:
                del self._known[known]

    def overtaken(self, repo: str, revision: str, *, sha: str, at: datetime) -> bool:
        """Forget what ``repo`` resolved to if someone else's answer is newer than ours: a sync of
        commit ``sha`` (at ``revision``) finished ``at``, after ours was kept, and ours is another
        commit — an operation or another writer asked Git since, and the commit it found may be newer
        than the one kept here, which a pass must never put back. True if it was forgotten."""
        try:
            key = _git.remote(repo).key
        except SourceError:
            return False
        with self._lock:
            kept = self._known.get((key, revision))
            if kept is None or kept[0] == sha.encode() or kept[1] >= at:
                return False
        self.forget(repo)
        return True

    def _get(self, key: str, revision: str) -> ObjectID | None:
        with self._lock:
            kept = self._known.get((key, revision))
            return kept[0] if kept else None

    def _keep(self, key: str, revision: str, sha: ObjectID) -> None:
        with self._lock:
            self._known[(key, revision)] = (sha, datetime.now(UTC))
            self.fetched += 1


def resolve(repo: str, revision: str, *, cache: Path | None = None, limits: Limits | None = None) -> str:
    """The full SHA of the commit ``revision`` names in ``repo``. See :func:`fetch` for both arguments."""
    where = _git.remote(repo)
    with _git.mirror(where, cache=cache or cache_dir()) as mirror:
        return _resolve(mirror, where, revision, limits or Limits()).decode()


def fetch(
    repo: str,
    revision: str,
    *,
    cache: Path | None = None,
    limits: Limits | None = None,
    refs: Refs | None = None,
) -> Checkout:
    """Resolve ``revision`` in ``repo`` to a commit and return its tree, checked out.

    ``repo`` is a URL (``file://``, ``http(s)://``, ``ssh://`` or ``user@host:path``) or a local
    path to a bare or non-bare repository (only its commits are read, never its working tree).
    ``revision`` is a branch, a tag, ``HEAD``, a full ref name, or a SHA of at least 7 hex digits.

    ``cache`` is the folder for mirrors (``repos/``) and checkouts (``checkouts/<repo>/<sha>``);
    default :func:`plumbline.paths.cache_dir`. A checkout already there is reused as it is; a new
    one is written to a temporary folder and renamed into place, so a reader never sees half of one.

    Raises :class:`SourceError`: the repository cannot be reached (naming its URL, without a
    password), the revision is unknown (listing some that exist), or the tree breaks a rule of
    :mod:`plumbline.source._materialise` (escaping symlinks, sizes over ``limits``).

    ``refs``: what revisions resolved to, kept between calls (:class:`Refs`); None, ask every time.
    """
    limits = limits or Limits()
    base = cache or cache_dir()
    where = _git.remote(repo)
    with _git.mirror(where, cache=base) as mirror:
        kept = refs._get(where.key, revision) if refs is not None else None
        if kept is not None and kept in mirror.object_store:
            sha = kept
        else:
            sha = _resolve(mirror, where, revision, limits)
            if refs is not None:
                refs._keep(where.key, revision, sha)
    with Repo(str(base / "repos" / where.key)) as mirror:
        commit = mirror.object_store[sha]
        assert isinstance(commit, Commit)
        root = _checkout(mirror, commit, base / "checkouts" / where.key, where=where, limits=limits)
    offset = timezone(timedelta(seconds=commit.commit_timezone))
    return Checkout(
        repo=repo,
        revision=revision,
        sha=sha.decode(),
        root=root,
        message=commit.message.decode("utf-8", "replace"),
        author=commit.author.decode("utf-8", "replace"),
        committed_at=datetime.fromtimestamp(commit.commit_time, tz=offset),
    )


def mirror_path(repo: str, *, cache: Path | None = None) -> Path | None:
    """Where :func:`fetch` keeps ``repo``'s bare mirror (read it, never write it); None if not there."""
    path = (cache or cache_dir()) / "repos" / _git.remote(repo).key
    return path if path.exists() else None


def _sha(revision: str) -> ObjectID:
    return ObjectID(revision.lower().encode())


def _resolve(mirror: Repo, where: _git.Remote, revision: str, limits: Limits) -> ObjectID:
    revision = revision.strip()
    if not revision:
        raise SourceError(f"no revision given for {where.shown}; name a branch, a tag or a commit SHA")
    if _git.is_full_sha(revision) and _sha(revision) in mirror.object_store:
        # A pinned commit we already have: no network needed, and none wanted.
        return _git.peel(mirror, _sha(revision), revision=revision, shown=where.shown)
    refs = _git.update(mirror, where, max_bytes=limits.max_repo_bytes)
    sha = _git.resolve_in(mirror, refs, revision, shown=where.shown)
    if sha is None and _git.is_full_sha(revision):
        # Not at the tip of any branch or tag: ask for the commit itself. Servers allow this for
        # commits reachable from their refs; anything else is an unknown revision below.
        with contextlib.suppress(SourceError):
            _git.update(mirror, where, max_bytes=limits.max_repo_bytes, also=(_sha(revision),))
        sha = _git.resolve_in(mirror, refs, revision, shown=where.shown)
    if sha is None:
        raise SourceError(
            f"revision {revision!r} is not a branch, tag or commit of {where.shown}; "
            f"{_git.known_revisions(refs)}"
        )
    return sha


def _checkout(mirror: Repo, commit: Commit, parent: Path, *, where: _git.Remote, limits: Limits) -> Path:
    final = parent / commit.id.decode()
    if final.is_dir():
        return final
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{commit.id.decode()[:12]}-"))
    try:
        materialise(mirror.object_store, commit.tree, temp, limits=limits, shown=where.shown)
        os.chmod(temp, 0o755)
        try:
            temp.rename(final)
        except OSError:
            if not final.is_dir():
                raise
            # Another process checked the same commit out first; theirs is as good as ours.
            shutil.rmtree(temp, ignore_errors=True)
    except OSError as error:
        shutil.rmtree(temp, ignore_errors=True)
        raise SourceError(
            f"{where.shown}: cannot write the checkout of {commit.id.decode()}: {error}"
        ) from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return final
