"""The Git source stage: a repository and a revision in, the tree of one exact commit out.

Git is spoken by dulwich; no ``git`` binary is needed at runtime (``ssh`` is, for ssh URLs).

* :func:`fetch` mirrors the repository into the cache (incrementally), resolves the revision to a
  commit and materialises that commit's tree into a folder keyed by its SHA: a :class:`Checkout`.
* :func:`resolve` only resolves (and fetches what that needs).
* :class:`Refs` keeps what revisions resolved to between fetches (the controller's, per interval).
* :func:`remote` names a repository (:class:`Remote`: URL, cache key, how it is shown); :func:`mirror`
  opens its mirror in the cache (:func:`mirror_path`: where it is, to read); :func:`push_new_ref`
  creates a branch on the remote (capture).
* :func:`safe_join` is how every later stage turns a path from repository content into a file:
  it refuses ``..`` and symlinks that lead outside the checkout; :func:`is_inside` is its test.

Everything refused or unreachable is a :class:`~plumbline.errors.SourceError` naming the repository
and the file. Size limits are the module constants below, overridable per call with :class:`Limits`.
"""

from plumbline.source._checkout import Checkout, Refs, fetch, mirror_path, resolve
from plumbline.source._git import Remote, mirror, push_new_ref, remote
from plumbline.source._materialise import (
    MAX_CHECKOUT_BYTES,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_REPO_BYTES,
    Limits,
)
from plumbline.source._paths import is_inside, safe_join

__all__ = [
    "MAX_CHECKOUT_BYTES",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_REPO_BYTES",
    "Checkout",
    "Limits",
    "Refs",
    "Remote",
    "fetch",
    "is_inside",
    "mirror",
    "mirror_path",
    "push_new_ref",
    "remote",
    "resolve",
    "safe_join",
]
