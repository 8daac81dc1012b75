"""``write_capture``: a capture plan becomes one commit on a new branch of the source repository.

Written with dulwich, straight into the object store: no working tree is touched (a non-bare
repository's checked-out branch and files stay exactly as they were). Local repositories (a path or
``file://``) get the branch directly; remote ones get it pushed from plumbline's mirror, which holds
the base commit since the app was fetched.
"""

from __future__ import annotations

import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
            sha = _commit(target, base_sha, plan, message=message, author=author, shown=where.shown)
            if not target.refs.add_if_new(ref, sha, message=b"plumbline capture"):
                raise SourceError(f"branch {branch!r} already exists in {where.shown}; choose another name")
        return sha.decode()
    with mirror(where, cache=cache_dir()) as repository:
        sha = _commit(repository, base_sha, plan, message=message, author=author, shown=where.shown)
        push_new_ref(repository, where, ref, sha)
    return sha.decode()


def _local_path(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    if url.startswith("/"):
        return Path(url)
    return None


def _commit(
    target: Repo, base_sha: str, plan: CapturePlan, *, message: str, author: str, shown: str
) -> ObjectID:
    store = target.object_store
    base_id = ObjectID(base_sha.encode())
    try:
        base = store[base_id]
    except KeyError:
        raise SourceError(f"repository {shown} has no commit {base_sha}") from None
    if not isinstance(base, Commit):
        raise SourceError(f"{base_sha} in {shown} is not a commit")
    files: dict[tuple[str, ...], ObjectID] = {}
    for edit in plan.edits:
        blob = Blob.from_string(edit.content.encode("utf-8"))
        store.add_object(blob)
        files[tuple(edit.path.split("/"))] = blob.id
    tree_id = _put(store, base.tree, files)
    commit = Commit()
    commit.tree = tree_id
    commit.parents = [base_id]
    commit.author = commit.committer = author.encode("utf-8")
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = (message.rstrip("\n") + "\n").encode("utf-8")
    store.add_object(commit)
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
