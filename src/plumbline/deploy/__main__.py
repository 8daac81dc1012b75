"""``python -m plumbline.deploy [FOLDER]``: write the generated manifests into FOLDER (default ``deploy``)."""

from __future__ import annotations

import sys
from pathlib import Path

from plumbline.deploy import custom_resource_definitions, install_text, to_yaml

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "deploy")
folder.mkdir(parents=True, exist_ok=True)
(folder / "crds.yaml").write_text(to_yaml(custom_resource_definitions()))
(folder / "install.yaml").write_text(install_text())
print(f"wrote {folder / 'crds.yaml'} and {folder / 'install.yaml'}")
