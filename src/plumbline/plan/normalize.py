"""Removing what the server owns from an object before comparing it: the same rules on both sides."""

from __future__ import annotations

import copy
from typing import Any

# Written by the API server on every object; never a difference a person made.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")
# Annotations tools write about themselves.
SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def normalize(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``obj`` without server metadata, tool annotations and ``status``.

    ``status`` is reported by controllers, not declared; a sync never writes it.
    """
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
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
