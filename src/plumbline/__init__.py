"""plumbline: a GitOps engine for Kubernetes that checks that Git really is the source of truth."""

from plumbline._version import __version__
from plumbline.errors import PlumbError

__all__ = ["PlumbError", "__version__"]
