"""What installs plumbline into a cluster: its CustomResourceDefinitions, generated from the config
models (the one source of truth for every kind's schema), as data and as the YAML under ``deploy/``.

    for crd in custom_resource_definitions():
        print(crd["metadata"]["name"])      # apps.plumbline.dev, projects.plumbline.dev, ...
    text = to_yaml(custom_resource_definitions())   # what deploy/crds.yaml holds

A unit test keeps ``deploy/crds.yaml`` equal to what this package generates.
"""

from plumbline.deploy._apply import apply_crds, established
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
from plumbline.deploy._yaml import to_yaml

__all__ = [
    "COLUMNS",
    "GROUP",
    "NAMES",
    "STATUS",
    "VERSION",
    "apply_crds",
    "custom_resource_definition",
    "custom_resource_definitions",
    "established",
    "kind_schema",
    "structural",
    "to_yaml",
]
