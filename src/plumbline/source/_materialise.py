"""Writing the tree of one commit into a directory, refusing anything that could escape it.

Refused, each with an error naming the path:

* a tree entry whose name could not come from a real ``git`` (empty, ``.``, ``..``, ``.git``, or
  containing ``/`` or NUL): a crafted repository could otherwise write outside the checkout;
* a symlink that leads outside the checkout -- an absolute target, or one whose real resolution
  (following other links in the tree) leaves it. Links that stay inside are kept, dangling or not.
  The whole checkout is refused rather than the link skipped: silently missing files could make a
  render come out smaller than Git says, and a smaller render is how prunes delete things;
* more than ``max_files`` files, a file over ``max_file_bytes``, or more than ``max_checkout_bytes``.

Not materialised: submodules (their commits live in other repositories) and Git LFS content (the
pointer files are written as they are). Files are written read-only; checkouts are shared.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, ObjectID, Tree

from plumbline.errors import SourceError
from plumbline.source._paths import is_inside

MAX_REPO_BYTES = 1 << 30
MAX_CHECKOUT_BYTES = 512 << 20
MAX_FILE_BYTES = 32 << 20
MAX_FILES = 50_000

_GITLINK = 0o160000
_BAD_NAMES = {b"", b".", b"..", b".git"}


@dataclass(frozen=True)
class Limits:
    """How much of a repository plumbline accepts. The defaults are the module constants.

    ``max_repo_bytes`` bounds the packed bytes received in one fetch; the others bound one checkout.
    """

    max_repo_bytes: int = MAX_REPO_BYTES
    max_checkout_bytes: int = MAX_CHECKOUT_BYTES
    max_file_bytes: int = MAX_FILE_BYTES
    max_files: int = MAX_FILES


def materialise(
    store: BaseObjectStore, tree_sha: ObjectID, target: Path, *, limits: Limits, shown: str
) -> None:
    """Write tree ``tree_sha`` into the existing, empty directory ``target``.

    ``shown`` names the repository in errors. On error, ``target`` is left half-written for the
    caller to delete.
    """
    files = 0
    total = 0
    links: list[tuple[str, bytes]] = []
    pending: list[tuple[ObjectID, str]] = [(tree_sha, "")]
    while pending:
        sha, prefix = pending.pop()
        tree = store[sha]
        if not isinstance(tree, Tree):
            raise SourceError(f"{shown}: {prefix or 'the root'} should be a directory but is not a Git tree")
        for entry in tree.iteritems():
            name, mode = entry.path, entry.mode
            rel = prefix + os.fsdecode(name)
            if name.lower() in _BAD_NAMES or b"/" in name or b"\x00" in name:
                raise SourceError(
                    f"{shown}: the tree entry {rel!r} has a name git itself refuses to check out; "
                    "the repository looks crafted to escape its checkout"
                )
            path = target / rel
            if stat.S_ISDIR(mode):
                path.mkdir()
                pending.append((entry.sha, rel + "/"))
                continue
            if mode == _GITLINK:
                continue
            files += 1
            if files > limits.max_files:
                raise SourceError(
                    f"{shown}: more than {limits.max_files} files (reached at {rel}); plumbline refuses "
                    "checkouts that large (the limit is source.MAX_FILES)"
                )
            blob = store[entry.sha]
            if not isinstance(blob, Blob):
                raise SourceError(f"{shown}: {rel} should be a file but is not a Git blob")
            data = blob.as_raw_string()
            if len(data) > limits.max_file_bytes:
                raise SourceError(
                    f"{shown}: {rel} is {len(data)} bytes, more than the {limits.max_file_bytes} bytes "
                    "plumbline accepts in one file (the limit is source.MAX_FILE_BYTES)"
                )
            total += len(data)
            if total > limits.max_checkout_bytes:
                raise SourceError(
                    f"{shown}: the checkout grows past {limits.max_checkout_bytes} bytes at {rel}; "
                    "plumbline refuses checkouts that large (the limit is source.MAX_CHECKOUT_BYTES)"
                )
            if stat.S_ISLNK(mode):
                links.append((rel, data))
            else:
                _write(path, data, executable=bool(mode & 0o111))
    # Links last, so no file above was written through one.
    for rel, link_target in links:
        _link(target, rel, link_target, shown=shown)
    real_root = os.path.realpath(target)
    for rel, link_target in links:
        if not is_inside(os.path.realpath(target / rel), real_root):
            raise SourceError(
                f"{shown}: {rel} is a symlink to {os.fsdecode(link_target)!r}, which leads outside the "
                "repository; plumbline refuses repositories with such links (CVE-2022-24348 class)"
            )


def _write(path: Path, data: bytes, *, executable: bool) -> None:
    # O_EXCL | O_NOFOLLOW: never write through something already there.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o555 if executable else 0o444)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _link(root: Path, rel: str, link_target: bytes, *, shown: str) -> None:
    if b"\x00" in link_target or not link_target:
        raise SourceError(f"{shown}: {rel} is a symlink with an invalid target")
    if link_target.startswith(b"/"):
        raise SourceError(
            f"{shown}: {rel} is a symlink to the absolute path {os.fsdecode(link_target)!r}; "
            "plumbline refuses links that point outside the repository (CVE-2022-24348 class)"
        )
    os.symlink(link_target, root / rel)
