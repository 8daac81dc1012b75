"""Which branches contain a commit: read from the mirror ``source.fetch`` keeps (no network)."""

from __future__ import annotations

from pathlib import Path

from dulwich.repo import Repo

from plumbline.guards._model import CheckoutInfo
from plumbline.source import Checkout, mirror_path

MAX_COMMITS = 20_000  # per branch; a commit further back than this counts as not contained


def branches_containing(repo: str, sha: str, *, cache: Path | None = None) -> tuple[str, ...] | None:
    """Names of the branches (``main``) whose history holds ``sha``; None if the mirror is not there.

    Call after :func:`plumbline.source.fetch` (which updates the mirror's branches).
    """
    path = mirror_path(repo, cache=cache)
    if path is None:
        return None
    target = sha.encode()
    found = []
    with Repo(str(path)) as mirror:
        for ref, head in sorted(mirror.get_refs().items()):
            if not ref.startswith(b"refs/heads/"):
                continue
            walker = mirror.get_walker(include=[head], max_entries=MAX_COMMITS)
            if any(entry.commit.id == target for entry in walker):
                found.append(ref.removeprefix(b"refs/heads/").decode())
    return tuple(found)


def checkout_info(checkout: Checkout, *, cache: Path | None = None, base: str | None = None) -> CheckoutInfo:
    """What guards need to know of a checkout, with the branches that contain its commit and the
    mirror that holds it; ``base``: the SHA a merge request is checked against (``plumb check``)."""
    return CheckoutInfo(
        sha=checkout.sha,
        revision=checkout.revision,
        message=checkout.message,
        branches=branches_containing(checkout.repo, checkout.sha, cache=cache),
        root=checkout.root,
        mirror=mirror_path(checkout.repo, cache=cache),
        base=base,
    )
