"""The capture stage: live drift in, a change to the Git source out, so that Git matches live.

The other way to resolve drift than reverting it (DESIGN.md S3, S8). Given the drift
:class:`~plumbline.plan.attribution.FieldChange` s of an app (``drift-revert``, ``conflict``,
``unmanaged-addition``) and the app rendered from a checkout, :func:`capture_changes` works out
file edits, per source kind:

One module per source kind, as in render/ (:mod:`._plain`, :mod:`._kustomize`, :mod:`._helm`):

* **plain** YAML: the source document is edited in place (ruamel round-trip: comments, key order,
  quoting and list indentation kept; list items with a merge key addressed by it);
* **kustomize**: bases are left alone; a strategic-merge patch is added to the overlay (the app path)
  and listed under ``patches:`` in its kustomization;
* **helm**: a value in a value file is changed only when an experiment proves it feeds exactly that
  field (see :mod:`._helm`); otherwise the field is reported unmapped with the patch that would
  express it.

Every edit is proven by rendering the edited source again: a field is *captured* only if the new
render carries its live value. :func:`write_capture` commits a plan on a new branch;
:func:`write_revert` (``plumb rollback --write-revert-branch``) the same way a commit that reverts
Git to a good revision's tree, for review.

For an App, :func:`capture_app` takes its plan (the drift, :func:`drift`) and its settings, and
:func:`commit_capture` writes the result on a new branch of its repository (a :class:`CaptureCommit`);
``CapturePlan.to_dict`` is what ``plumb capture -o json`` prints.

A Secret's values are never shown (``(secret value)``) and its data is never written to Git.
"""

from plumbline.capture._capture import CAPTURABLE, capture_app, capture_changes, drift
from plumbline.capture._model import (
    SECRET_VALUE,
    CaptureCommit,
    Captured,
    CapturePlan,
    FileEdit,
    Unmapped,
    commit_message,
    shown_value,
)
from plumbline.capture._write import (
    commit_capture,
    commit_revert,
    default_branch,
    write_capture,
    write_revert,
)

__all__ = [
    "CAPTURABLE",
    "SECRET_VALUE",
    "CaptureCommit",
    "CapturePlan",
    "Captured",
    "FileEdit",
    "Unmapped",
    "capture_app",
    "capture_changes",
    "commit_capture",
    "commit_message",
    "commit_revert",
    "default_branch",
    "drift",
    "shown_value",
    "write_capture",
    "write_revert",
]
