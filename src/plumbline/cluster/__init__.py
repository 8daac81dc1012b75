"""Kubernetes API access: requests, discovery, and object operations on plain dicts."""

from plumbline.cluster.client import FIELD_MANAGER, Cluster
from plumbline.cluster.discovery import Discovery, ResourceInfo, split_api_version
from plumbline.errors import ApiFailure  # the API errors live in the one hierarchy; kept here too

__all__ = ["FIELD_MANAGER", "ApiFailure", "Cluster", "Discovery", "ResourceInfo", "split_api_version"]
