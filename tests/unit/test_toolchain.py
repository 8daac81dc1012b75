"""The toolchain's lookup order and its refusals, with a tiny real Go kit built by the real `go`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from plumbline.errors import ToolchainError
from plumbline.toolchain import KITS, Kit, _resolve, binary, ensure_kit, kit_status
from plumbline.toolchain._kits import prometheus_release

MAIN_GO = """package main

import (
\t"fmt"
\t"example.com/fake"
)

func main() { fmt.Println("hello Version: " + fake.Version) }
"""


def make_kit(root: Path, *, main_go: str = MAIN_GO) -> Kit:
    """A kit whose version comes from a local replace, so building it needs no network."""
    src = root / "gomod" / "hello"
    (src / "fake").mkdir(parents=True)
    (src / "go.mod").write_text(
        "module plumbline.test/hello\n\ngo 1.22\n\nrequire example.com/fake v1.2.3\n\n"
        "replace example.com/fake => ./fake\n"
    )
    (src / "fake" / "go.mod").write_text("module example.com/fake\n\ngo 1.22\n")
    (src / "fake" / "fake.go").write_text('package fake\n\nconst Version = "1.2.3"\n')
    (src / "main.go").write_text(main_go)
    return Kit(
        name="hello",
        module="example.com/fake",
        packages={"hello": "."},
        version_args=("--version",),
        version_pattern=r"hello Version: {version}\b",
        gomod_root=root / "gomod",
    )


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PLUMBLINE_CACHE_DIR", str(cache))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    return cache


def test_pinned_versions_come_from_the_kits_go_mod() -> None:
    assert KITS["kubernetes"].version.startswith("v1.")
    go_mod = (KITS["kubernetes"].gomod_dir / "go.mod").read_text()
    assert f"k8s.io/kubernetes {KITS['kubernetes'].version}" in go_mod
    # Every staging module is pinned to the matching v0 version, as k8s.io/kubernetes itself does.
    staging = KITS["kubernetes"].version.replace("v1.", "v0.", 1)
    assert f"k8s.io/client-go => k8s.io/client-go {staging}" in go_mod


def test_a_kit_without_its_require_line_is_a_clear_error(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    (kit.gomod_dir / "go.mod").write_text("module x\n")
    with pytest.raises(ToolchainError, match=r"go.mod: no `require example.com/fake"):
        _ = kit.version


def test_build_caches_and_then_refuses_a_corrupted_binary(tmp_path: Path, isolated_cache: Path) -> None:
    kit = make_kit(tmp_path)
    messages: list[str] = []
    paths = ensure_kit(kit, progress=messages.append)
    built = paths["hello"]
    assert built.parent == isolated_cache / "bin" / "hello-v1.2.3"
    assert any("building hello v1.2.3" in m for m in messages)
    manifest = json.loads((built.parent / "manifest.json").read_text())
    assert set(manifest["sha256"]) == {"hello"}

    # A second call uses the cache: nothing is built.
    messages.clear()
    assert ensure_kit(kit, progress=messages.append) == paths
    assert messages == []

    with built.open("ab") as handle:
        handle.write(b"garbage")
    with pytest.raises(ToolchainError, match=r"corrupted or was replaced.*plumb local build --force"):
        ensure_kit(kit)

    ensure_kit(kit, force=True)  # the advertised fix works
    assert ensure_kit(kit)["hello"].is_file()


def test_a_cached_binary_of_another_version_is_refused(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    built = ensure_kit(kit)["hello"]
    built.write_text("#!/bin/sh\necho 'hello Version: 9.9.9'\n")
    manifest_path = built.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"]["hello"] = _resolve._sha256(built)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(
        ToolchainError, match=r"reports 'hello Version: 9.9.9', but plumbline pins hello v1.2.3"
    ):
        ensure_kit(kit)


def test_a_failing_build_shows_the_compiler_error_and_caches_nothing(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, main_go="package main\n\nfunc main() { undefinedThing() }\n")
    with pytest.raises(
        ToolchainError, match=r"(?s)`go build` of hello v1.2.3 failed.*undefined: undefinedThing"
    ):
        ensure_kit(kit)
    assert not _resolve.kit_dir(kit).exists()


def test_no_go_toolchain_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kit = make_kit(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("GOROOT", raising=False)
    monkeypatch.setattr(_resolve, "GO_FALLBACKS", ())
    with pytest.raises(ToolchainError, match=r"Go is needed once.*KUBEBUILDER_ASSETS"):
        ensure_kit(kit)


def test_not_built_and_build_disallowed_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="plumb local build"):
        ensure_kit(make_kit(tmp_path), build=False)


def test_kubebuilder_assets_come_first_and_must_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    etcd = assets / "etcd"
    etcd.write_text("#!/bin/sh\necho 'etcd Version: 3.5.0'\n")
    etcd.chmod(0o755)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    assert binary("etcd", build=False) == etcd

    etcd.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    with pytest.raises(
        ToolchainError, match=r"from KUBEBUILDER_ASSETS\) failed `--version` with exit code 3"
    ):
        binary("etcd", build=False)


def test_unknown_binary_lists_the_known_ones() -> None:
    with pytest.raises(ToolchainError, match=r"plumbline knows: .*etcd"):
        binary("kube-proxy")


def test_a_binary_that_cannot_be_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "etcd").write_bytes(b"\x7fELF but truncated")
    (assets / "etcd").chmod(0o755)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    with pytest.raises(ToolchainError, match="cannot be run"):
        binary("etcd", build=False)


def test_a_binary_new_in_a_kit_is_built_alone_into_its_cache_entry(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    first = ensure_kit(kit)["hello"]
    before = first.stat().st_mtime_ns
    (kit.gomod_dir / "two").mkdir()
    (kit.gomod_dir / "two" / "main.go").write_text('package main\n\nfunc main() { println("two") }\n')
    grown = dataclasses.replace(kit, packages={"hello": ".", "two": "./two"})

    assert kit_status(grown) == f"hello v1.2.3: two not built yet (would build into {first.parent})"
    with pytest.raises(ToolchainError, match=r"not built yet \(two not in .*plumb local build"):
        ensure_kit(grown, build=False)

    messages: list[str] = []
    paths = ensure_kit(grown, progress=messages.append)
    assert paths["two"].parent == first.parent
    assert kit_status(grown) == f"hello v1.2.3: {first.parent}"
    assert any("building two (hello v1.2.3, new in this kit)" in m for m in messages), messages
    assert first.stat().st_mtime_ns == before  # the others are not rebuilt
    manifest = json.loads((first.parent / "manifest.json").read_text())
    assert set(manifest["sha256"]) == {"hello", "two"}
    assert manifest["sha256"]["two"] == _resolve._sha256(paths["two"])

    # A binary the manifest records and the folder lacks is damage, refused as before.
    paths["two"].unlink()
    with pytest.raises(ToolchainError, match=r"lacks two.*plumb local build --force"):
        ensure_kit(grown)


def test_build_tags_and_the_release_stamp_reach_the_binary(tmp_path: Path) -> None:
    kit = make_kit(
        tmp_path,
        main_go="""package main

import "fmt"

var stamp = "unstamped"

func main() { fmt.Println("hello Version: " + stamp + suffix) }
""",
    )
    (kit.gomod_dir / "tagged.go").write_text('//go:build fancy\n\npackage main\n\nconst suffix = " fancy"\n')
    (kit.gomod_dir / "plain.go").write_text('//go:build !fancy\n\npackage main\n\nconst suffix = ""\n')
    stamped = dataclasses.replace(
        kit,
        tags=("fancy",),
        ldflags=("-X main.stamp={release}",),
        release=lambda version: "7." + version.lstrip("v"),
        version_pattern=r"hello Version: {version} fancy$",
    )
    built = ensure_kit(stamped)["hello"]
    assert _resolve._run_version(built, stamped).strip() == "hello Version: 7.1.2.3 fancy"


def test_prometheus_module_versions_name_their_release() -> None:
    assert prometheus_release("v0.316.0") == "3.16.0"
    assert prometheus_release("v0.305.12") == "3.5.12"
    assert KITS["prometheus"].release(KITS["prometheus"].version).startswith("3.")
    with pytest.raises(ToolchainError, match=r"v0\.MNN\.P"):
        prometheus_release("v3.16.0")


def test_kwok_and_kube_scheduler_are_in_the_kits() -> None:
    assert KITS["kwok"].version.startswith("v0.")
    assert "sigs.k8s.io/kwok/cmd/kwok" in (KITS["kwok"].gomod_dir / "go.mod").read_text()
    assert "kube-scheduler" in KITS["kubernetes"].binaries
