"""The kits: which Go module builds which binaries, and how to tell a binary's version."""

from __future__ import annotations

import re
from collections.abc import Callable
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
    # Extra linker flags; "{version}", "{major}", "{minor}" are filled from the pinned version, and
    # "{release}" with the version the binary itself reports (``release``).
    ldflags: tuple[str, ...] = ()
    # Go build tags (``go build -tags``).
    tags: tuple[str, ...] = ()
    # The release a module version stands for, as the binary reports it: most modules are versioned as
    # they are released (v1.2.3 -> "1.2.3"); Prometheus' Go module v0.316.0 is Prometheus 3.16.0.
    release: Callable[[str], str] = lambda version: version.lstrip("v")

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
        release = self.release(self.version)
        return [
            flag.format(version=self.version, major=major, minor=minor, release=release)
            for flag in self.ldflags
        ]

    def version_ok(self, output: str) -> bool:
        expected = self.version_pattern.format(version=re.escape(self.release(self.version)))
        return re.search(expected, output) is not None


def prometheus_release(version: str) -> str:
    """Prometheus 3.x is published as Go module v0.3XX.Y (v0.316.0 is 3.16.0): its own VERSION file's rule."""
    match = re.fullmatch(r"v0\.(\d)(\d\d)\.(\d+)", version)
    if not match:
        raise ToolchainError(f"{version!r} is not a Prometheus module version of the form v0.MNN.P")
    major, minor, patch = match.groups()
    return f"{major}.{int(minor)}.{patch}"


KITS: dict[str, Kit] = {
    kit.name: kit
    for kit in (
        Kit(
            name="kubernetes",
            module="k8s.io/kubernetes",
            packages={
                "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
                "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
                "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
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
        Kit(
            # Simulated nodes and Pods (docs/decisions/0011): no replace directives in its go.mod; its
            # version is compiled in (pkg/consts.Version), so nothing is stamped.
            name="kwok",
            module="sigs.k8s.io/kwok",
            packages={"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
            version_args=("--version",),
            version_pattern=r"\bv?{version}\b",
        ),
        Kit(
            # For metric checks in tests (docs/decisions/0011). `remove_all_sd` leaves out every cloud
            # service discovery (static targets are all plumbline needs), so their SDKs are not compiled;
            # the web UI's assets are not built in (the HTTP API does not need them).
            name="prometheus",
            module="github.com/prometheus/prometheus",
            packages={"prometheus": "github.com/prometheus/prometheus/cmd/prometheus"},
            version_args=("--version",),
            version_pattern=r"prometheus, version {version}\b",
            ldflags=("-X github.com/prometheus/common/version.Version={release}",),
            tags=("remove_all_sd",),
            release=prometheus_release,
        ),
        Kit(
            # For the Terraform plan guard's tests (docs/decisions/0020): `tofu init/plan/show -json` on
            # configurations of built-in resources only. Its go.mod repeats OpenTofu's one replace
            # directive (its HCL fork); the version is embedded, and goreleaser links `version.dev=no`
            # (unstamped, it says "v1.12.6-dev").
            name="opentofu",
            module="github.com/opentofu/opentofu",
            packages={"tofu": "github.com/opentofu/opentofu/cmd/tofu"},
            version_args=("version",),
            version_pattern=r"(?m)^OpenTofu v{version}$",
            ldflags=("-X github.com/opentofu/opentofu/version.dev=no",),
        ),
    )
}


def kit_for(binary_name: str) -> Kit:
    for kit in KITS.values():
        if binary_name in kit.packages:
            return kit
    known = ", ".join(sorted(b for kit in KITS.values() for b in kit.packages))
    raise ToolchainError(f"unknown binary {binary_name!r}; plumbline knows: {known}")
