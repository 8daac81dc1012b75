"""Which commits a requirement checks, read from the repository's mirror (no network, no ``git``)."""

from __future__ import annotations

from pathlib import Path

from dulwich.objects import Commit, ObjectID
from dulwich.repo import Repo

from plumbline.config import SignatureMode, Signatures
from plumbline.errors import SourceError
from plumbline.signatures._model import Verdict
from plumbline.signatures._verify import verify_commit

MAX_COMMITS = 20_000
"""The most commits one strict check reads (a longer history without a recorded sync: the newest)."""


def commits_since(repo: Repo, head: str, *, mode: SignatureMode, since: str | None) -> list[Commit]:
    """``head``'s commit, and under ``strict`` every commit in its history that ``since``'s history does
    not hold (all of it when ``since`` is None or not in the repository), newest first."""
    store = repo.object_store
    top = ObjectID(head.encode())
    commit = store[top] if top in store else None  # noqa: SIM401 - an object store has no get()
    if not isinstance(commit, Commit):
        raise SourceError(f"commit {head} is not in the repository's mirror; fetch it first")
    if mode is SignatureMode.HEAD:
        return [commit]
    exclude = [ObjectID(since.encode())] if since and ObjectID(since.encode()) in store else []
    found = [
        entry.commit for entry in repo.get_walker(include=[top], exclude=exclude, max_entries=MAX_COMMITS)
    ]
    return found if any(c.id == top for c in found) else [commit, *found]


def verify_revision(mirror: Path, head: str, requirement: Signatures, *, since: str | None) -> list[Verdict]:
    """The verdict of every commit ``requirement`` checks for ``head`` in the bare ``mirror``."""
    with Repo(str(mirror)) as repo:
        commits = commits_since(repo, head, mode=requirement.mode, since=since)
        return [verify_commit(commit, requirement.keys) for commit in commits]
