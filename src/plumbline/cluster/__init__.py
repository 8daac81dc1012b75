"""Kubernetes API access: requests, discovery, and object operations on plain dicts."""

from plumbline.cluster.access import GROUP, RESOURCE, Decision, Identity, Permission, allowed, review_token
from plumbline.cluster.client import FIELD_MANAGER, Cluster
from plumbline.cluster.discovery import Discovery, ResourceInfo, split_api_version
from plumbline.errors import ApiFailure  # the API errors live in the one hierarchy; kept here too

__all__ = [
    "FIELD_MANAGER",
    "GROUP",
    "RESOURCE",
    "ApiFailure",
    "Cluster",
    "Decision",
    "Discovery",
    "Identity",
    "Permission",
    "ResourceInfo",
    "allowed",
    "review_token",
    "split_api_version",
]
