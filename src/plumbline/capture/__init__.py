"""The capture stage: live drift in, a change to the Git source out, so that Git matches live.

The other way to resolve drift than reverting it (DESIGN.md S3, S8). Given the drift
:class:`~plumbline.plan.attribution.FieldChange` s of an app (``drift-revert``, ``conflict``,
``unmanaged-addition``) and the app rendered from a checkout, :func:`capture_changes` works out
file edits, per source kind:

* **plain** YAML: the source document is edited in place (ruamel round-trip: comments, key order,
  quoting and list indentation kept; list items with a merge key addressed by it);
* **kustomize**: bases are left alone; a strategic-merge patch is added to the overlay (the app path)
  and listed under ``patches:`` in its kustomization;
* **helm**: a value in a value file is changed only when an experiment proves it feeds exactly that
  field (see :mod:`._helm`); otherwise the field is reported unmapped with the patch that would
  express it.

Every edit is proven by rendering the edited source again: a field is *captured* only if the new
render carries its live value. :func:`write_capture` commits a plan on a new branch.

A Secret's values are never shown (``(secret value)``) and its data is never written to Git.
"""

from plumbline.capture._capture import CAPTURABLE, capture_changes
from plumbline.capture._model import (
    SECRET_VALUE,
    Captured,
    CapturePlan,
    FileEdit,
    Unmapped,
    commit_message,
    shown_value,
)
from plumbline.capture._write import default_branch, write_capture

__all__ = [
    "CAPTURABLE",
    "SECRET_VALUE",
    "CapturePlan",
    "Captured",
    "FileEdit",
    "Unmapped",
    "capture_changes",
    "commit_message",
    "default_branch",
    "shown_value",
    "write_capture",
]
