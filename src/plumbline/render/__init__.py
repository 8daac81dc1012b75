"""The render stage: a checked-out app path in, the desired Kubernetes objects out.

Three kinds of source (:class:`plumbline.config.Tool`), picked by :func:`render` (``Tool.AUTO``) from
what the folder holds:

* **kustomize** when it has a ``kustomization.yaml`` (``.yml``, ``Kustomization``);
* **helm** when it has a ``Chart.yaml``;
* **plain** otherwise: every YAML and JSON file below it.

Every result is a list of :class:`Manifest` (the object, the file it came from, its index there),
checked the same way whatever produced it: each document is a mapping with apiVersion, kind and a
fixed metadata.name, and no object appears twice. Namespaces are *not* defaulted here (the plan
stage does that); ``namespace`` only tells Helm which release namespace to template for.

``helm`` and ``kustomize`` are the real binaries from :mod:`plumbline.toolchain`, run offline, with
a time limit and isolated from the user's configuration. Remote kustomize bases and Helm
dependencies are refused unless the App's Project allows them (``spec.allowRemoteSources``). Errors are
:class:`~plumbline.errors.RenderError` naming the file (and line, where known).
"""

from plumbline.render._cache import RENDER_CACHE_SIZE, Lookup, RenderCache
from plumbline.render._helm import HelmOptions, helm_options, value_file_path
from plumbline.render._kustomize import kustomization_file
from plumbline.render._manifest import Manifest
from plumbline.render._render import chosen_tool, detect, render, render_count

__all__ = [
    "RENDER_CACHE_SIZE",
    "HelmOptions",
    "Lookup",
    "Manifest",
    "RenderCache",
    "chosen_tool",
    "detect",
    "helm_options",
    "kustomization_file",
    "render",
    "render_count",
    "value_file_path",
]
