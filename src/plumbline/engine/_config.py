"""Where the configuration comes from: a file or folder (``--config PATH``), or the cluster
(``--config cluster:NAMESPACE``: plumbline's objects read through the API, decision 0014). Either way
the same models check it and the same errors name the object and field."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plumbline.config import (
    API_VERSION,
    KINDS,
    Config,
    cluster_namespace,
    config_files,
    config_from_objects,
    find_config,
    load_config,
)
from plumbline.errors import ConfigError

if TYPE_CHECKING:  # a configuration read from files needs no HTTP client (`plumb apps`)
    from plumbline.cluster import Cluster


def cluster_config(
    cluster: Cluster, namespace: str, *, env: Mapping[str, str] | None = None, lenient: bool = False
) -> Config:
    """The configuration kept in ``cluster``: every plumbline object in ``namespace`` (the
    controller's), and the Apps in the namespaces its Projects list in ``sourceNamespaces``.

    ConfigError if plumbline's CRDs are not installed; InvalidConfigError as for a file (``lenient``:
    invalid Apps are left out and listed in ``Config.rejected`` instead, see ``config_from_objects``).
    """
    infos = {kind: cluster.discovery.lookup(API_VERSION, kind) for kind in KINDS}
    missing = sorted(kind for kind, info in infos.items() if info is None)
    if missing:
        raise ConfigError(
            f"{cluster.server} does not serve plumbline's kinds ({', '.join(missing)}): install the "
            "CRDs first (plumb install --apply, or kubectl apply -f deploy/crds.yaml)"
        )
    objects: list[dict[str, Any]] = []
    for kind, info in infos.items():
        if kind != "App" and info is not None:
            objects += cluster.list(info, namespace=namespace)
    anywhere = any((p.get("spec") or {}).get("sourceNamespaces") for p in objects if p["kind"] == "Project")
    apps = infos["App"]
    assert apps is not None
    objects += cluster.list(apps, namespace=None if anywhere else namespace)
    return config_from_objects(objects, home=namespace, env=env, lenient=lenient)


class ConfigReader:
    """:func:`read_config` for a process that reads the configuration again and again (the
    controller's poll, every interval): configuration files are parsed again only when one of them
    changed (its path, size, modification time or inode; a file added or removed), else the last
    :class:`Config` is returned as it is. A configuration in the cluster is read every time."""

    def __init__(self, explicit: str | None, *, home: Cluster | None = None, lenient: bool = False) -> None:
        self.explicit, self.home, self.lenient = explicit, home, lenient
        self._last: tuple[tuple[tuple[str, int, int, int], ...], str, Config] | None = None
        self.parsed = 0  # how many times the files were parsed

    def __call__(self) -> Config:
        if cluster_namespace(self.explicit) is not None:
            return read_config(self.explicit, home=self.home, lenient=self.lenient)
        path = find_config(self.explicit)
        seen = tuple(
            (str(file), stat.st_size, stat.st_mtime_ns, stat.st_ino)
            for file in config_files(path)
            for stat in [file.stat()]
        )
        instance = os.environ.get("PLUMBLINE_INSTANCE", "")
        if self._last is not None and self._last[:2] == (seen, instance):
            return self._last[2]
        config = load_config(path)
        self.parsed += 1
        self._last = (seen, instance, config)
        return config


def read_config(
    explicit: str | None,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    home: Cluster | None = None,
    lenient: bool = False,
) -> Config:
    """The configuration ``--config`` (else ``$PLUMBLINE_CONFIG``, else the usual places) names:
    from the cluster for ``cluster:NAMESPACE`` (``home`` if open, else through ``kubeconfig`` and
    ``context``), else from files; ``lenient`` as for :func:`cluster_config`."""
    namespace = cluster_namespace(explicit)
    if namespace is None:
        return load_config(find_config(explicit))
    if home is not None:
        return cluster_config(home, namespace, lenient=lenient)
    from plumbline.cluster import Cluster

    with Cluster(kubeconfig=Path(kubeconfig) if kubeconfig else None, context=context) as cluster:
        return cluster_config(cluster, namespace, lenient=lenient)
