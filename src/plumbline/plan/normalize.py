"""Removing what the server owns from an object before comparing it: the same rules on both sides."""

from __future__ import annotations

import base64
import copy
from typing import Any

from plumbline.redact import is_fingerprint

# Written by the API server on every object; never a difference a person made.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")
# Annotations tools write about themselves.
SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def normalize(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``obj`` without server metadata, tool annotations and ``status``, a Secret's
    ``stringData`` merged into ``data`` (:func:`string_data_into_data`).

    ``status`` is reported by controllers, not declared; a sync never writes it.
    """
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    string_data_into_data(out)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        for key in SERVER_METADATA:
            metadata.pop(key, None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            for key in SERVER_ANNOTATIONS:
                annotations.pop(key, None)
            if not annotations:
                metadata.pop("annotations")
        if metadata.get("labels") == {}:
            metadata.pop("labels")
    return out


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
