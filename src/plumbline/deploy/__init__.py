"""What installs plumbline into a cluster: its CustomResourceDefinitions, generated from the config
models (the one source of truth for every kind's schema), and everything else ``plumb install``
prints or applies (``manifests``, ``install_text``, ``install``, ``uninstall``), as data and as the
YAML under ``deploy/``.

    for crd in custom_resource_definitions():
        print(crd["metadata"]["name"])      # apps.plumbline.dev, projects.plumbline.dev, ...
    text = to_yaml(custom_resource_definitions())   # what deploy/crds.yaml holds

Unit tests keep ``deploy/crds.yaml`` and ``deploy/install.yaml`` equal to what this package generates.
"""

from plumbline.deploy._apply import apply_crds, apply_namespaces, apps_left, established, install, uninstall
from plumbline.deploy._crd import (
    COLUMNS,
    GROUP,
    NAMES,
    STATUS,
    VERSION,
    custom_resource_definition,
    custom_resource_definitions,
    kind_schema,
    structural,
)
from plumbline.deploy._install import (
    APPLY_ROLE,
    APPLY_RULES,
    BUILT_IN_GROUPS,
    CLUSTER_RULES,
    IMAGE,
    KEY_NAMESPACE,
    KEY_RULES,
    NAME,
    NAMESPACE_RULES,
    READ_ROLE,
    READ_RULES,
    Rule,
    deployment,
    install_text,
    instance,
    manifests,
)
from plumbline.deploy._yaml import to_yaml

__all__ = [
    "APPLY_ROLE",
    "APPLY_RULES",
    "BUILT_IN_GROUPS",
    "CLUSTER_RULES",
    "COLUMNS",
    "GROUP",
    "IMAGE",
    "KEY_NAMESPACE",
    "KEY_RULES",
    "NAME",
    "NAMES",
    "NAMESPACE_RULES",
    "READ_ROLE",
    "READ_RULES",
    "STATUS",
    "VERSION",
    "Rule",
    "apply_crds",
    "apply_namespaces",
    "apps_left",
    "custom_resource_definition",
    "custom_resource_definitions",
    "deployment",
    "established",
    "install",
    "install_text",
    "instance",
    "kind_schema",
    "manifests",
    "structural",
    "to_yaml",
    "uninstall",
]
