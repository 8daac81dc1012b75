"""Benchmark: the controller over many apps, beside `kubectl apply --server-side` of the same objects.

A local control plane is started here (no kube-controller-manager: only ConfigMaps are used). Git
holds A apps of O ConfigMaps each, one namespace per app, every app in mode ``sync``; each app has its
own repository (``--repos 1``: one repository for all). Two ways of running the controller are timed:

* **long-running** — `plumb controller --listen …` is started once; its first round creates
  everything, then the next --rounds rounds with nothing to change are read from its own
  ``/metrics``: ``plumbline_round_seconds`` (every app enqueued by a poll until each has passed once;
  median). A controller without that gauge is measured by the sum of its passes' durations
  (``plumbline_reconcile_duration_seconds_sum``) over A passes, which is a round when apps pass one at
  a time. Peak RSS is the process's VmHWM (``/proc/PID/status``), with its thread count;
* **cold** — one `plumb controller --once` process per pass (no warm caches), median of --repeat;

beside one `kubectl apply --server-side` of all the same objects (which also changes nothing), median
of --repeat. Goals (issue 16): a pass over 1000 apps x 10 objects with nothing to change in <= 30 s
and <= 300 MiB.

    .venv/bin/python -m bench.scale                 # 100 apps x 10 objects, median of 3
    .venv/bin/python -m bench.scale --apps 1000 --objects 10 --repeat 1
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.diff_sync import Run, git, measure
from plumbline import toolchain
from plumbline.local import ControlPlane

COMMIT = ("-c", "user.name=bench", "-c", "user.email=bench@local", "commit", "-qm")


def app_name(a: int) -> str:
    return f"scale-{a:04}"


def objects_yaml(a: int, objects: int, *, value: str = "value") -> str:
    """App ``a``'s ConfigMaps (``value`` changes what a commit changes)."""
    return "---\n".join(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{o}\n  namespace: {app_name(a)}\n"
        f"data:\n  KEY: {value}-{a}-{o}\n"
        for o in range(objects)
    )


def repo_of(root: Path, a: int, repos: int) -> Path:
    return root / "repos" / f"repo-{a % repos:04}" if repos > 1 else root / "repo"


def app_file(root: Path, a: int, repos: int) -> Path:
    return repo_of(root, a, repos) / "apps" / f"app-{a:04}" / "objects.yaml"


def write_apps(root: Path, apps: int, objects: int, *, repos: int = 1) -> Path:
    """``apps`` apps over ``repos`` repositories under ``root`` (app ``a`` in repository ``a %
    repos``) and the config naming every app; returns the config file."""
    entries: list[str] = []
    for a in range(apps):
        path = app_file(root, a, repos)
        path.parent.mkdir(parents=True)
        path.write_text(objects_yaml(a, objects))
        entries.append(
            f"apiVersion: plumbline.dev/v1alpha1\nkind: App\nmetadata:\n  name: {app_name(a)}\nspec:\n"
            f"  source:\n    repoURL: {repo_of(root, a, repos)}\n    targetRevision: main\n"
            f"    path: apps/app-{a:04}\n"
            f"  destination:\n    namespace: {app_name(a)}\n  syncOptions:\n    createNamespace: true\n"
            "  mode: sync\n"
        )
    for r in range(min(repos, apps)):
        repo = repo_of(root, r, repos)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", ".")
        git(repo, *COMMIT, "apps")
    config = root / "plumbline.yaml"
    config.write_text("---\n".join(entries))
    return config


@dataclass
class Scene:
    """A apps x O ConfigMaps in Git, the control plane they go to, and the environment plumb runs in."""

    root: Path
    apps: int
    objects: int
    repos: int
    env: dict[str, str]
    kubeconfig: Path

    def commit(self, a: int, value: str) -> None:
        """A commit to app ``a``'s ConfigMaps (every value becomes ``value-…``)."""
        path = app_file(self.root, a, self.repos)
        path.write_text(objects_yaml(a, self.objects, value=value))
        repo = repo_of(self.root, a, self.repos)
        git(repo, "add", ".")
        git(repo, *COMMIT, f"{app_name(a)}: {value}")

    def kubectl_apply(self) -> Run:
        """One `kubectl apply --server-side --force-conflicts` of every app's objects (forced: it takes
        back fields a live edit or plumbline's last sync owns)."""
        kubectl = toolchain.binary("kubectl")
        files = (
            ["-f", str(self.root / "repo" / "apps")] if self.repos == 1 else ["-f", str(self.root / "repos")]
        )
        return measure(
            [str(kubectl), "apply", "--server-side", "--force-conflicts", "-R", *files], env=self.env, ok=(0,)
        )

    def once(self, *, ok: tuple[int, ...] = (0,)) -> Run:
        """One `plumb controller --once` process over every app."""
        return measure([sys.executable, "-m", "plumbline", "controller", "--once"], env=self.env, ok=ok)


@contextlib.contextmanager
def scene(root: Path, plane: ControlPlane, apps: int, objects: int, *, repos: int) -> Iterator[Scene]:
    config = write_apps(root, apps, objects, repos=repos)
    # Git mirrors of these throw-away repositories go here, not into the shared cache (whose built
    # binaries stay in use: a link, never a copy or a rebuild).
    cache = root / "cache"
    cache.mkdir()
    (cache / "bin").symlink_to(toolchain.binary("kubectl").parent.parent)
    env = {
        **os.environ,
        "KUBECONFIG": str(plane.kubeconfig),
        "PLUMBLINE_CONFIG": str(config),
        "PLUMBLINE_STORE": str(root / "plumbline.db"),
        "PLUMBLINE_CACHE_DIR": str(cache),
    }
    yield Scene(root=root, apps=apps, objects=objects, repos=repos, env=env, kubeconfig=plane.kubeconfig)


# ---- the long-running controller -------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Samples:
    """One scrape of /metrics: (name, labels) -> value."""

    values: dict[tuple[str, frozenset[tuple[str, str]]], float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Samples:
        samples = cls()
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match is None or line.startswith("#"):
                continue
            labels = frozenset(_LABEL.findall(match.group(2) or ""))
            samples.values[(match.group(1), labels)] = float(match.group(3))
        return samples

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.values)

    def total(self, name: str, **labels: str) -> float:
        """The sum of ``name`` over every series carrying ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.values.items() if n == name and wanted <= ls)

    def apps(self, name: str) -> set[str]:
        """The apps ``name`` has a series for."""
        return {value for (n, ls), _ in self.values.items() if n == name for key, value in ls if key == "app"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    """`plumb controller --listen 127.0.0.1:PORT` as a process of its own, read through /metrics."""

    def __init__(self, scene: Scene, *, interval: float, extra: list[str] | None = None) -> None:
        self.scene, self.port = scene, free_port()
        self.log = scene.root / f"controller-{self.port}.log"
        cmd = [sys.executable, "-m", "plumbline", "controller", "--json-logs", "--interval", str(interval)]
        cmd += ["--listen", f"127.0.0.1:{self.port}", *(extra or [])]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(cmd, env=scene.env, stdout=log, stderr=subprocess.STDOUT)

    def scrape(self) -> Samples:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=30) as answer:
            return Samples.parse(answer.read().decode())

    def alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"plumb controller exited {self.process.returncode}:\n{tail}")

    def status(self, key: str) -> float:
        """A field of /proc/PID/status, in the unit it is given in (kB for memory)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
        return 0.0

    def wait(self, done: Callable[[Samples], bool], *, timeout: float, what: str) -> Samples:
        deadline = time.monotonic() + timeout
        while True:
            self.alive()
            with contextlib.suppress(OSError):
                samples = self.scrape()
                if done(samples):
                    return samples
            if time.monotonic() > deadline:
                raise SystemExit(f"plumb controller: {what} not within {timeout:.0f} s (log: {self.log})")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=600)  # it gives every owner Lease back first
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def problems(self) -> collections.Counter[str]:
        """Warning and error log lines, by their first words (what to look at when a run goes wrong)."""
        import json

        seen: collections.Counter[str] = collections.Counter()
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
                seen[f"{entry['level']}: {' '.join(str(entry.get('msg', '')).split()[:6])}"] += 1
        return seen


@dataclass
class Rounds:
    first_s: float  # the round that created everything, from the process's start
    rounds_s: list[float]  # the next rounds, nothing to change
    measured_by: str  # plumbline_round_seconds, or the sum of the passes
    peak_mb: float  # VmHWM
    threads: int  # at the end
    errors: int  # passes that ended in error

    @property
    def median_s(self) -> float:
        return statistics.median(self.rounds_s)


def first_round(running: Running, apps: int) -> float:
    """Wait for the round that creates everything; the seconds from the process's start."""
    began = time.monotonic()
    running.wait(
        lambda s: (
            s.total("plumbline_rounds_total") >= 1
            if s.has("plumbline_rounds_total")
            else len(s.apps("plumbline_reconciles_total")) >= apps
        ),
        timeout=120 + 3.0 * apps,
        what="the first round",
    )
    return time.monotonic() - began


def reached(name: str, value: float) -> Callable[[Samples], bool]:
    """A scrape in which ``name`` (summed) is at least ``value``."""
    return lambda samples: samples.total(name) >= value


def steady_rounds(running: Running, apps: int, count: int) -> tuple[list[float], str]:
    """The next ``count`` rounds once everything exists: the controller's own gauge when it has one."""
    now = running.scrape()
    timeout = 120 + 2.0 * apps
    if now.has("plumbline_round_seconds"):
        seen, rounds = now.total("plumbline_rounds_total"), []
        for _ in range(count):
            at = running.wait(reached("plumbline_rounds_total", seen + 1), timeout=timeout, what="a round")
            seen = at.total("plumbline_rounds_total")
            rounds.append(at.total("plumbline_round_seconds"))
        return rounds, "plumbline_round_seconds"
    name = "plumbline_reconcile_duration_seconds"
    rounds = []
    for _ in range(count):
        passes, spent = now.total(name + "_count"), now.total(name + "_sum")
        now = running.wait(reached(name + "_count", passes + apps), timeout=timeout, what="a round")
        rounds.append((now.total(name + "_sum") - spent) * apps / (now.total(name + "_count") - passes))
    return rounds, "the sum of A passes' durations"


def measure_rounds(running: Running, apps: int, count: int) -> Rounds:
    first = first_round(running, apps)
    rounds, how = steady_rounds(running, apps, count)
    errors = running.scrape().total("plumbline_reconciles_total", result="error")
    return Rounds(
        first_s=first,
        rounds_s=rounds,
        measured_by=how,
        peak_mb=running.status("VmHWM") / 1024,
        threads=int(running.status("Threads")),
        errors=int(errors),
    )


@contextlib.contextmanager
def controller(s: Scene, *, interval: float) -> Iterator[Running]:
    """A long-running controller over ``s``, stopped at the end; its log's warnings and errors are
    summed up on stderr then."""
    running = Running(s, interval=interval)
    try:
        yield running
    finally:
        running.stop()
        for line, count in running.problems().most_common(8):
            print(f"  controller log, {count} x {line}", file=sys.stderr)


def scene_options(parser: argparse.ArgumentParser) -> None:
    """The options of a script that makes its own scene (:func:`standalone`)."""
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--objects", type=int, default=10, help="ConfigMaps per app")
    parser.add_argument("--repos", type=int, default=0, help="Git repositories (default: one per app)")
    parser.add_argument("--interval", type=float, default=10.0, help="the controller's Git poll, s")


@contextlib.contextmanager
def standalone(args: argparse.Namespace) -> Iterator[Scene]:
    """A scene of its own: a temporary folder and control plane, as ``args`` (scene_options) say."""
    with (
        tempfile.TemporaryDirectory(prefix="plumbline-scale-") as tmp,
        ControlPlane.temporary(controller_manager=False) as plane,
        scene(Path(tmp), plane, args.apps, args.objects, repos=args.repos or args.apps) as s,
    ):
        yield s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scene_options(parser)
    parser.add_argument("--repeat", type=int, default=3, help="cold passes and kubectl runs; medians")
    parser.add_argument("--rounds", type=int, default=3, help="long-running rounds read; median")
    args = parser.parse_args()
    with standalone(args) as s:
        with controller(s, interval=args.interval) as running:
            rounds = measure_rounds(running, args.apps, args.rounds)
        print(
            f"{args.apps} apps x {args.objects} ConfigMaps, {s.repos} repositories; "
            f"first round (creates all): "
            f"{rounds.first_s:.1f} s; {rounds.threads} threads; {rounds.errors} passes in error; "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
            file=sys.stderr,
        )
        kubectl_runs = [s.kubectl_apply() for _ in range(args.repeat)]
        once_runs = [s.once() for _ in range(args.repeat)]
        k = statistics.median(r.seconds for r in kubectl_runs)
        k_mb = statistics.median(r.peak_mb for r in kubectl_runs)
        o = statistics.median(r.seconds for r in once_runs)
        o_mb = statistics.median(r.peak_mb for r in once_runs)
        print(
            f"nothing to change; rounds: median of {args.rounds} ({rounds.measured_by}); "
            f"else median of {args.repeat}"
        )
        print(
            "| apps x objects | run | seconds | per app s | peak MB"
            " | kubectl apply --server-side s | kubectl MB |"
        )
        print("|---|---|---|---|---|---|---|")
        for run, seconds, mb in (
            ("plumb controller, a round", rounds.median_s, rounds.peak_mb),
            ("plumb controller --once", o, o_mb),
        ):
            print(
                f"| {args.apps} x {args.objects} | {run} | {seconds:.2f} | {seconds / args.apps:.3f}"
                f" | {mb:.0f} | {k:.2f} | {k_mb:.0f} |"
            )


if __name__ == "__main__":
    main()
