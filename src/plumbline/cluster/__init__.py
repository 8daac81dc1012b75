"""Kubernetes API access: requests, discovery, and object operations on plain dicts."""

from plumbline.cluster.client import FIELD_MANAGER, ApiFailure, Cluster
from plumbline.cluster.discovery import Discovery, ResourceInfo, split_api_version

__all__ = ["FIELD_MANAGER", "ApiFailure", "Cluster", "Discovery", "ResourceInfo", "split_api_version"]
