"""``write_capture``: a capture plan becomes one commit on a new branch of the source repository.

Written with dulwich, straight into the object store: no working tree is touched (a non-bare
repository's checked-out branch and files stay exactly as they were). Local repositories (a path or
``file://``) get the branch directly; remote ones get it pushed from plumbline's mirror, which holds
the base commit since the app was fetched.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dulwich.diff_tree import tree_changes
from dulwich.errors import NotGitRepository
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref, check_ref_format
from dulwich.repo import Repo

from plumbline.capture._model import CaptureCommit, CapturePlan, commit_message
from plumbline.config import App
from plumbline.errors import SourceError
from plumbline.paths import cache_dir
from plumbline.source import mirror, push_new_ref, remote
from plumbline.store import current_actor

_TREE = 0o040000
_FILE = 0o100644


def default_branch(app: str, *, now: datetime | None = None) -> str:
    """``plumbline/capture-<app>-<yyyymmdd-hhmmss>`` (UTC)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"plumbline/capture-{app}-{moment:%Y%m%d-%H%M%S}"


def commit_capture(
    app: App, plan: CapturePlan, *, base_sha: str, branch: str | None = None, author: str | None = None
) -> CaptureCommit:
    """:func:`write_capture` for ``app``: on ``branch`` (default :func:`default_branch`) of its source
    repository, with :func:`commit_message`, by ``author`` (default: the acting user)."""
    chosen = branch or default_branch(app.name)
    repo = app.spec.source.repo_url
    sha = write_capture(
        repo=repo,
        base_sha=base_sha,
        plan=plan,
        branch=chosen,
        message=commit_message(app=app.name, plan=plan),
        author=author or _author(),
    )
    return CaptureCommit(sha=sha, branch=chosen, repo=repo, base=base_sha)


def commit_revert(
    app: App, *, good_sha: str, bad_sha: str, branch: str, reason: str, author: str | None = None
) -> tuple[CaptureCommit, list[str]]:
    """:func:`write_revert` for ``app``'s repository: the commit (parent ``bad_sha``, ``base`` in the
    result) that makes Git say what a rollback to ``good_sha`` applied, and the files it changes."""
    repo = app.spec.source.repo_url
    message = (
        f"revert: {app.name}: back to {good_sha[:12]} (rolled back from {bad_sha[:12]})\n\n"
        f"plumbline rolled {app.name} back to {good_sha} ({reason}).\n"
        f"This commit reverts everything from {good_sha[:12]} to {bad_sha[:12]}; merge it to make Git say\n"
        f"what the cluster runs. The app is held at {good_sha[:12]} until a new commit is synced."
    )
    sha, files = write_revert(
        repo=repo,
        good_sha=good_sha,
        bad_sha=bad_sha,
        branch=branch,
        message=message,
        author=author or _author(),
    )
    return CaptureCommit(sha=sha, branch=branch, repo=repo, base=bad_sha), files


def _author() -> str:
    actor = current_actor()
    email = actor if "@" in actor else f"{actor}@localhost"
    return f"{actor} <{email}>"


def write_capture(
    *, repo: str, base_sha: str, plan: CapturePlan, branch: str, message: str, author: str
) -> str:
    """Commit ``plan``'s edits on the new ``branch`` (parent ``base_sha``) in ``repo``; the new SHA.

    ``repo`` is the app's repoURL: a local path or ``file://`` URL (bare or not) is written directly;
    anything else is pushed to, from the mirror :func:`plumbline.source.fetch` keeps. ``author`` is
    ``Name <email>``. Refuses (``SourceError``) a branch that already exists, an invalid branch name,
    a plan without edits, and a ``base_sha`` the repository does not have.
    """
    if plan.empty:
        raise SourceError("nothing to commit: the capture plan has no file edits")

    def make(target: Repo, shown: str) -> ObjectID:
        return _commit(target, base_sha, plan, message=message, author=author, shown=shown)

    return _write_branch(repo=repo, branch=branch, author=author, make=make, why=b"plumbline capture")


def write_revert(
    *, repo: str, good_sha: str, bad_sha: str, branch: str, message: str, author: str
) -> tuple[str, list[str]]:
    """Commit on the new ``branch`` of ``repo`` (parent ``bad_sha``) the tree of ``good_sha``: what
    ``git revert good..bad`` gives, as one commit for review; (its SHA, the files it changes). The
    same refusals as :func:`write_capture`, and a revert that would change nothing."""
    files: list[str] = []

    def make(target: Repo, shown: str) -> ObjectID:
        good, bad = _commit_of(target, good_sha, shown), _commit_of(target, bad_sha, shown)
        changes = tree_changes(target.object_store, bad.tree, good.tree)
        paths = {entry.path for c in changes for entry in (c.new, c.old) if entry is not None and entry.path}
        files.extend(sorted(p.decode("utf-8", "replace") for p in paths))
        if not files:
            raise SourceError(f"{good_sha[:12]} and {bad_sha[:12]} have the same files: nothing to revert")
        body = message.rstrip("\n") + "\n\nFiles:\n" + "".join(f"  {f}\n" for f in files)
        return _new_commit(target, tree=good.tree, parent=bad.id, message=body, author=author)

    sha = _write_branch(repo=repo, branch=branch, author=author, make=make, why=b"plumbline rollback")
    return sha, files


def _write_branch(
    *, repo: str, branch: str, author: str, make: Callable[[Repo, str], ObjectID], why: bytes
) -> str:
    """A commit ``make`` writes into the repository's object store, on the new ``branch``: set directly
    in a local repository, pushed from plumbline's mirror to any other."""
    ref = Ref(b"refs/heads/" + branch.encode())
    if not branch or not check_ref_format(ref):
        raise SourceError(f"{branch!r} is not a valid branch name")
    if "<" not in author or not author.rstrip().endswith(">"):
        raise SourceError(f"author {author!r} must look like 'Name <email>'")
    where = remote(repo)
    local = _local_path(where.url)
    if local is not None:
        try:
            target = Repo(str(local))
        except NotGitRepository:
            raise SourceError(f"repository {where.shown}: not a Git repository") from None
        with target:
            sha = make(target, where.shown)
            if not target.refs.add_if_new(ref, sha, message=why):
                raise SourceError(f"branch {branch!r} already exists in {where.shown}; choose another name")
        return sha.decode()
    with mirror(where, cache=cache_dir()) as repository:
        sha = make(repository, where.shown)
        push_new_ref(repository, where, ref, sha)
    return sha.decode()


def _local_path(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    if url.startswith("/"):
        return Path(url)
    return None


def _commit_of(target: Repo, sha: str, shown: str) -> Commit:
    try:
        found = target.object_store[ObjectID(sha.encode())]
    except KeyError:
        raise SourceError(f"repository {shown} has no commit {sha}") from None
    if not isinstance(found, Commit):
        raise SourceError(f"{sha} in {shown} is not a commit")
    return found


def _commit(
    target: Repo, base_sha: str, plan: CapturePlan, *, message: str, author: str, shown: str
) -> ObjectID:
    store = target.object_store
    base = _commit_of(target, base_sha, shown)
    files: dict[tuple[str, ...], ObjectID] = {}
    for edit in plan.edits:
        blob = Blob.from_string(edit.content.encode("utf-8"))
        store.add_object(blob)
        files[tuple(edit.path.split("/"))] = blob.id
    tree_id = _put(store, base.tree, files)
    return _new_commit(target, tree=tree_id, parent=base.id, message=message, author=author)


def _new_commit(target: Repo, *, tree: ObjectID, parent: ObjectID, message: str, author: str) -> ObjectID:
    commit = Commit()
    commit.tree = tree
    commit.parents = [parent]
    commit.author = commit.committer = author.encode("utf-8")
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = (message.rstrip("\n") + "\n").encode("utf-8")
    target.object_store.add_object(commit)
    return commit.id


def _put(store: Any, tree_id: ObjectID | None, files: dict[tuple[str, ...], ObjectID]) -> ObjectID:
    """``tree_id`` with each file (path parts -> blob) set, folders made as needed; one new tree per
    folder touched, so the repository gets no dangling intermediate trees."""
    old = store[tree_id] if tree_id is not None else Tree()
    entries = {item.path: (item.mode, item.sha) for item in old.items()}
    folders: dict[bytes, dict[tuple[str, ...], ObjectID]] = {}
    for parts, blob_id in files.items():
        name = parts[0].encode("utf-8")
        if len(parts) == 1:
            mode = entries[name][0] if name in entries and entries[name][0] in (_FILE, 0o100755) else _FILE
            entries[name] = (mode, blob_id)
        else:
            folders.setdefault(name, {})[parts[1:]] = blob_id
    for name, inside in folders.items():
        existing = entries.get(name)
        sub = existing[1] if existing is not None and existing[0] == _TREE else None
        entries[name] = (_TREE, _put(store, sub, inside))
    tree = Tree()
    for name, (mode, sha) in entries.items():
        tree.add(name, mode, sha)
    store.add_object(tree)
    return ObjectID(tree.id)
