"""Removing what the server owns from an object before comparing it: the same rules on both sides."""

from __future__ import annotations

import base64
from typing import Any

from plumbline.redact import Redactor, is_fingerprint, sensitive_values

# Written by the API server on every object; never a difference a person made.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")
# Annotations tools write about themselves.
SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def normalize(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """``obj`` without server metadata, tool annotations and ``status``, a Secret's ``stringData``
    merged into ``data`` (:func:`string_data_into_data`).

    ``status`` is reported by controllers, not declared; a sync never writes it.

    Not a deep copy: the dictionaries something is dropped from are new, everything else is
    ``obj``'s own (copying whole live objects, managedFields and all, five times per object was most
    of a plan's CPU). Read it; to change it, copy it first (:func:`comparable` does when it must).
    """
    if obj is None:
        return None
    out = {key: value for key, value in obj.items() if key != "status"}
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        metadata = out["metadata"] = {k: v for k, v in metadata.items() if k not in SERVER_METADATA}
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            annotations = {k: v for k, v in annotations.items() if k not in SERVER_ANNOTATIONS}
            if annotations:
                metadata["annotations"] = annotations
            else:
                metadata.pop("annotations")
        if metadata.get("labels") == {}:
            metadata.pop("labels")
    if "stringData" in out and isinstance(out.get("data"), dict):
        out["data"] = dict(out["data"])  # string_data_into_data writes into it
    return string_data_into_data(out)


def comparable(obj: dict[str, Any] | None, redactor: Redactor) -> dict[str, Any] | None:
    """``obj`` as plans compare and show it: :func:`normalize`, secret values fingerprinted (then
    copied: ``obj`` itself never changes). Shares what it did not change with ``obj``: read only."""
    shown = normalize(obj)
    if shown is None or not sensitive_values(shown):
        return shown
    return redactor.redact(shown)


def string_data_into_data(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` (changed in place) with a Secret's ``stringData`` written into ``data`` as base64, as the
    API server does on every write (``stringData`` wins; it is never stored). Compared this way, a live
    edit of a key Git sets through ``stringData`` is a difference in ``data`` that Git sets.
    Fingerprints (:mod:`plumbline.redact`) are moved as they are: they name bytes, not text."""
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1" or "stringData" not in obj:
        return obj
    string_data = obj.pop("stringData")
    if not isinstance(string_data, dict) or not string_data:
        return obj
    data = obj.get("data")
    if not isinstance(data, dict):
        data = obj["data"] = {}
    for key, value in string_data.items():
        if isinstance(value, str) and not is_fingerprint(value):
            value = base64.b64encode(value.encode("utf-8")).decode("ascii")
        if value is not None:
            data[key] = value
    return obj
