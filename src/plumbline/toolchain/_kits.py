"""The kits: which Go module builds which binaries, and how to tell a binary's version."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from plumbline.errors import ToolchainError

GOMOD_ROOT = Path(__file__).parent / "gomod"


@dataclass(frozen=True)
class Kit:
    """One pinned Go module and the binaries built from it.

    ``module`` is the requirement in ``gomod/<name>/go.mod`` whose version names the kit, so the
    version lives in exactly one place. ``packages`` maps each binary to the Go package it is built
    from. ``version_pattern`` must match the output of ``<binary> <version_args>``; ``{version}``
    in it stands for the pinned version without a leading ``v``.
    """

    name: str
    module: str
    packages: dict[str, str]
    version_args: tuple[str, ...]
    version_pattern: str
    gomod_root: Path = GOMOD_ROOT
    # Extra linker flags; "{version}", "{major}", "{minor}" are filled from the pinned version.
    ldflags: tuple[str, ...] = ()

    @property
    def gomod_dir(self) -> Path:
        return self.gomod_root / self.name

    @cached_property
    def version(self) -> str:
        go_mod = self.gomod_dir / "go.mod"
        text = go_mod.read_text()
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(self.module)}\s+(v\S+)", text, re.MULTILINE)
        if not match:
            raise ToolchainError(f"{go_mod}: no `require {self.module} vX.Y.Z` line; the kit cannot be built")
        return match.group(1)

    @property
    def binaries(self) -> tuple[str, ...]:
        return tuple(self.packages)

    def link_flags(self) -> list[str]:
        major, minor = [*self.version.lstrip("v").split("."), "0", "0"][:2]
        return [flag.format(version=self.version, major=major, minor=minor) for flag in self.ldflags]

    def version_ok(self, output: str) -> bool:
        expected = self.version_pattern.format(version=re.escape(self.version.lstrip("v")))
        return re.search(expected, output) is not None


KITS: dict[str, Kit] = {
    kit.name: kit
    for kit in (
        Kit(
            name="kubernetes",
            module="k8s.io/kubernetes",
            packages={
                "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
                "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
                "kubectl": "k8s.io/kubernetes/cmd/kubectl",
            },
            version_args=("--version",),
            # kubectl has no --version flag, but prints the same line for `kubectl version --client`;
            # the cache check runs the first binary only (kube-apiserver).
            version_pattern=r"Kubernetes v{version}\b",
            # Kubernetes stamps its version at link time; unstamped binaries say v0.0.0-master, and
            # the API server derives its compatibility version from this.
            ldflags=tuple(
                f"-X {package}.{key}={value}"
                for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
                for key, value in (
                    ("gitVersion", "{version}"),
                    ("gitMajor", "{major}"),
                    ("gitMinor", "{minor}"),
                    ("gitTreeState", "clean"),
                )
            ),
        ),
        Kit(
            name="etcd",
            module="go.etcd.io/etcd/server/v3",
            packages={"etcd": "."},
            version_args=("--version",),
            version_pattern=r"etcd Version: {version}\b",
        ),
        Kit(
            name="helm",
            module="helm.sh/helm/v4",
            packages={"helm": "helm.sh/helm/v4/cmd/helm"},
            version_args=("version",),
            version_pattern=r'Version:"v{version}"',
            # As helm's Makefile does; unstamped, helm says "v4.3" (and so does .Capabilities.HelmVersion).
            ldflags=("-X helm.sh/helm/v4/internal/version.version={version}",),
        ),
        Kit(
            name="kustomize",
            module="sigs.k8s.io/kustomize/kustomize/v5",
            packages={"kustomize": "sigs.k8s.io/kustomize/kustomize/v5"},
            version_args=("version",),
            version_pattern=r"(?m)^v{version}$",
        ),
    )
}


def kit_for(binary_name: str) -> Kit:
    for kit in KITS.values():
        if binary_name in kit.packages:
            return kit
    known = ", ".join(sorted(b for kit in KITS.values() for b in kit.packages))
    raise ToolchainError(f"unknown binary {binary_name!r}; plumbline knows: {known}")
