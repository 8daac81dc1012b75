"""Talking to Git repositories with dulwich: a local mirror per repository, and revisions to SHAs.

Each repository is mirrored into ``<cache>/repos/<key>`` (a bare repository), so a second fetch
only transfers new objects. The mirror's ``refs/heads/*`` and ``refs/tags/*`` follow the remote's;
they exist so dulwich can tell the remote what we already have.

Edge cases:

* A revision is tried as a full ref name (``refs/...``), then as a branch and a tag. A name that is
  *both* a branch and a tag, pointing at different commits, is refused as ambiguous: plumbline will
  not guess which one a deploy meant.
* Then as a SHA: a full 40-hex SHA already in the mirror needs no network at all (pinned revisions
  keep working while the server is down); otherwise the remote is asked for it by id, which servers
  allow only for reachable commits. An abbreviated SHA (7+ hex) must match exactly one commit.
* Annotated tags are peeled to their commit; a tag of a tree or blob is refused.
* The bytes received in one fetch are bounded (``max_bytes``), counted as they arrive.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.client import default_urllib3_manager, get_transport_and_path
from dulwich.errors import NotGitRepository
from dulwich.objects import Commit, ObjectID, Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

from plumbline.errors import SourceError

NETWORK_TIMEOUT_S = 60.0
# BatchMode: never wait for a password prompt nobody will answer.
SSH_COMMAND = "ssh -o BatchMode=yes -o ConnectTimeout=30"
URL_SCHEMES = ("file", "http", "https", "ssh", "git+ssh")
# user@host:path, as scp and git write it (an ssh URL without the scheme).
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:(?!//)")
_HEX = re.compile(r"^[0-9a-fA-F]{7,40}$")
_TRACKED = (b"refs/heads/", b"refs/tags/")
_PEELED = b"^{}"


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class Remote:
    """A repository location: ``url`` as dulwich takes it, ``shown`` for messages, ``key`` for the cache."""

    url: str
    shown: str
    key: str


def remote(repo: str) -> Remote:
    """Normalise ``repo`` (a URL or a local path); local paths become absolute and must exist.

    Raises :class:`SourceError` for an unsupported URL scheme or a local path that is not there.
    """
    if not repo.strip():
        raise SourceError("the repository is empty; give a URL (https://, ssh://, file://) or a local path")
    if "://" in repo:
        scheme = repo.split("://", 1)[0].lower()
        if scheme not in URL_SCHEMES:
            raise SourceError(
                f"repository {_redact(repo)}: the scheme {scheme!r} is not supported; use one of "
                f"{', '.join(s + '://' for s in URL_SCHEMES)} or a local path"
            )
        url = repo.rstrip("/")
    elif _SCP_LIKE.match(repo):
        url = repo
    else:
        path = Path(repo).expanduser()
        if not path.is_dir():
            raise SourceError(f"repository {repo}: no such directory")
        url = str(path.resolve())
    return Remote(url=url, shown=_redact(url), key=hashlib.sha256(url.encode()).hexdigest()[:20])


def _redact(url: str) -> str:
    """``url`` without a password, so errors and logs never show credentials."""
    if "://" not in url:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def mirror(where: Remote, *, cache: Path) -> Iterator[Repo]:
    """The bare mirror of ``where``, created if needed, held under a lock for one process at a time."""
    repos = cache / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    path = repos / where.key
    with (repos / f"{where.key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                repo = Repo(str(path))
            except NotGitRepository:
                # Absent, or a half-made mirror from a process that died: start over.
                shutil.rmtree(path, ignore_errors=True)
                repo = Repo.init_bare(str(path), mkdir=True)
            with repo:
                yield repo
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update(
    repo: Repo, where: Remote, *, max_bytes: int, also: tuple[ObjectID, ...] = ()
) -> dict[Ref, ObjectID]:
    """Fetch the remote's branches and tags (and the ``also`` SHAs) into ``repo``; return its refs.

    The returned mapping holds every ref the remote advertised, peeled entries (``^{}``) included
    when the transport sends them. Raises :class:`SourceError` naming the URL when the remote cannot
    be reached or read, or sends more than ``max_bytes``.
    """
    client, path = _client(where)
    store = repo.object_store
    received = 0

    def wants(refs: Mapping[Ref, ObjectID | None], depth: int | None = None) -> list[ObjectID]:
        wanted = {
            sha
            for name, sha in refs.items()
            if sha and name.startswith(_TRACKED) and not name.endswith(_PEELED) and sha not in store
        }
        wanted.update(sha for sha in also if sha not in store)
        return sorted(wanted)

    with tempfile.SpooledTemporaryFile(max_size=32 << 20, dir=repo.controldir()) as pack:

        def pack_data(chunk: bytes) -> int:
            nonlocal received
            received += len(chunk)
            if received > max_bytes:
                raise _TooLarge
            return pack.write(chunk)

        try:
            result = client.fetch_pack(path, wants, repo.get_graph_walker(), pack_data)
            if pack.tell():
                pack.seek(0)
                store.add_thin_pack(pack.read, None)
        except _TooLarge:
            raise SourceError(
                f"repository {where.shown} sent more than {max_bytes} bytes in one fetch; plumbline "
                "refuses repositories that large (the limit is source.MAX_REPO_BYTES)"
            ) from None
        except Exception as error:
            # dulwich's transports raise many unrelated types (HTTP, SSH, protocol, OS, not-a-repo);
            # to the caller they all mean the same thing: this repository could not be read.
            raise SourceError(f"cannot fetch from {where.shown}: {_reason(error)}") from None
    refs = {name: sha for name, sha in result.refs.items() if sha}
    _follow(repo, refs)
    return refs


def _client(where: Remote) -> tuple[Any, str]:
    kwargs: dict[str, Any] = {}
    if where.url.startswith(("http://", "https://")):
        kwargs["pool_manager"] = default_urllib3_manager(None, timeout=NETWORK_TIMEOUT_S)
    elif where.url.startswith(("ssh://", "git+ssh://")) or _SCP_LIKE.match(where.url):
        kwargs["ssh_command"] = SSH_COMMAND
    try:
        return get_transport_and_path(where.url, **kwargs)
    except ValueError as error:
        raise SourceError(f"repository {where.shown}: not a Git URL or path ({error})") from None


def _reason(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) < 400 else text[:400] + "..."


def _follow(repo: Repo, remote_refs: Mapping[Ref, ObjectID]) -> None:
    """Make the mirror's branches and tags those of the remote (for incremental fetches next time)."""
    store = repo.object_store
    wanted = {
        name: sha
        for name, sha in remote_refs.items()
        if name.startswith(_TRACKED) and not name.endswith(_PEELED) and sha in store
    }
    for name in list(repo.refs.keys()):
        if name.startswith(_TRACKED) and name not in wanted:
            repo.refs.remove_if_equals(name, None)
    for name, sha in wanted.items():
        repo.refs.set_if_equals(name, None, sha)


def resolve_in(repo: Repo, refs: Mapping[Ref, ObjectID], revision: str, *, shown: str) -> ObjectID | None:
    """The commit ``revision`` names, from the remote's ``refs`` or the mirror's objects; None if none.

    Raises :class:`SourceError` when ``revision`` is ambiguous or names something that is not a commit.
    """
    rev = revision.encode("utf-8", "surrogateescape")
    if rev == b"HEAD" or rev.startswith(b"refs/"):
        names = [Ref(rev)]
    else:
        names = [Ref(b"refs/heads/" + rev), Ref(b"refs/tags/" + rev)]
    found = {name: refs[name] for name in names if name in refs}
    if len(found) == 2:
        branch, tag = (peel(repo, sha, revision=revision, shown=shown) for sha in found.values())
        if branch != tag:
            raise SourceError(
                f"revision {revision!r} of {shown} is both a branch and a tag, at different commits; "
                f"say which one with refs/heads/{revision} or refs/tags/{revision}"
            )
    for sha in found.values():
        return peel(repo, sha, revision=revision, shown=shown)
    if not _HEX.match(revision):
        return None
    sha = ObjectID(revision.lower().encode())
    store = repo.object_store
    if len(sha) == 40:
        return peel(repo, sha, revision=revision, shown=shown) if sha in store else None
    matches = {m for m in store.iter_prefix(sha) if isinstance(store[m], Commit | Tag)}
    if len(matches) > 1:
        raise SourceError(
            f"revision {revision!r} of {shown} matches {len(matches)} commits; give more of the SHA"
        )
    return peel(repo, matches.pop(), revision=revision, shown=shown) if matches else None


def peel(repo: Repo, sha: ObjectID, *, revision: str, shown: str) -> ObjectID:
    """The commit ``sha`` is or (through annotated tags) points at."""
    store = repo.object_store
    for _ in range(100):
        if sha not in store:
            break
        obj = store[sha]
        if isinstance(obj, Commit):
            return sha
        if not isinstance(obj, Tag):
            raise SourceError(
                f"revision {revision!r} of {shown} is a {obj.type_name.decode()}, not a commit; "
                "plumbline deploys commits"
            )
        sha = obj.object[1]
    raise SourceError(f"revision {revision!r} of {shown} points at an object the repository does not have")


def is_full_sha(revision: str) -> bool:
    return len(revision) == 40 and _HEX.match(revision) is not None


def known_revisions(refs: Mapping[Ref, ObjectID], *, most: int = 8) -> str:
    """A short list of the branches and tags that do exist, for an "unknown revision" message."""
    parts = []
    for prefix, label in ((b"refs/heads/", "branches"), (b"refs/tags/", "tags")):
        names = sorted(
            n[len(prefix) :].decode("utf-8", "replace")
            for n in refs
            if n.startswith(prefix) and not n.endswith(_PEELED)
        )
        if names:
            more = f" (and {len(names) - most} more)" if len(names) > most else ""
            parts.append(f"{label}: {', '.join(names[:most])}{more}")
    return "; ".join(parts) if parts else "it has no branches or tags"


def push_new_ref(mirror: Repo, where: Remote, ref: Ref, sha: ObjectID) -> None:
    """Create ``ref`` at ``sha`` on the remote, refusing if the remote already has that ref."""
    client, path = _client(where)
    exists: list[bool] = []

    def update_refs(refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
        if ref in refs:
            exists.append(True)
            return dict(refs)
        return {**refs, ref: sha}

    try:
        result = client.send_pack(
            path, update_refs, generate_pack_data=mirror.object_store.generate_pack_data
        )
    except Exception as error:
        raise SourceError(f"cannot push to {where.shown}: {_reason(error)}") from None
    if exists:
        raise SourceError(f"branch {ref.decode()[len('refs/heads/') :]!r} already exists in {where.shown}")
    failed = {name: why for name, why in (result.ref_status or {}).items() if why}
    if failed:
        raise SourceError(f"{where.shown} refused the push: {failed}")
