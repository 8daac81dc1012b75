"""Benchmark runner: issue 16's table — every measure beside its reference, its goal, and whether it is met.

One local control plane (no kube-controller-manager) for everything, in this order:

1. start-up: `plumb --help` beside `kubectl --help` (no cluster needed);
2. bench/diff_sync.py at N objects: `plumb sync` of N new objects beside `kubectl apply
   --server-side`, and `plumb diff` with nothing to change beside `kubectl diff --server-side`
   (each repetition in fresh namespaces);
3. bench/scale.py's A apps x O ConfigMaps (one namespace and one Git repository each): a first
   `plumb controller --once` creates everything (not timed); then `plumb controller --once` (a cold
   process) --once-repeat times; then a long-running `plumb controller`: its first round, then --rounds
   rounds with nothing to change (``plumbline_round_seconds`` from its /metrics), then
   bench/drift_latency.py's live edits under a trickle of commits (edit -> the app's Drift Event);
   its peak RSS (VmHWM) at the end. Last, with the controller stopped, `kubectl apply --server-side
   --force-conflicts` of the same objects: once to take the edits back and apply the last commits,
   then --repeat times with nothing to change (kubectl goes last: its apply makes it a co-owner of
   every field, and a commit plumbline syncs after that would conflict with it).

Times are medians of --repeat runs (rounds: of --rounds). A goal is judged only at the size the
issue names (N = 1000; 1000 apps x 10 objects); at other sizes "met?" says so. The load average is
printed with the table: on a shared machine it moves the numbers.

    .venv/bin/python -m bench.table                  # the README's table: 1000 x 10, N = 1000
    .venv/bin/python -m bench.table --quick          # small sizes, a smoke run (tests/integration)
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import diff_sync, drift_latency, scale, startup
from plumbline import toolchain
from plumbline.local import ControlPlane


@dataclass(frozen=True)
class Row:
    measure: str
    reference: str  # what it is compared with, and its number
    now: str
    goal: str
    met: str  # yes / no / n/a (why)


def ratio_row(measure: str, n: int, full_n: int, mine: float, theirs: float, goal: float, who: str) -> Row:
    ratio = mine / theirs
    return Row(
        measure=f"{measure}, N = {n}",
        reference=f"{who}: {theirs:.2f} s",
        now=f"{ratio:.2f}× ({mine:.2f} s)",
        goal=f"≤ {goal}×",
        met=judged(ratio <= goal, n == full_n, f"N = {full_n}"),
    )


def judged(ok: bool, at_size: bool, size: str) -> str:
    if not at_size:
        return f"n/a (goal at {size})"
    return "yes" if ok else "no"


def median_of(repeat: int, run: Callable[[], diff_sync.Run]) -> diff_sync.Run:
    return diff_sync.median([run() for _ in range(repeat)])


def startup_rows(repeat: int) -> list[Row]:
    kubectl = str(toolchain.binary("kubectl"))
    with tempfile.TemporaryDirectory(prefix="plumbline-table-") as tmp:
        config = Path(tmp) / "plumbline.yaml"
        config.write_text(startup.CONFIG)
        env = {**os.environ, "PLUMBLINE_CONFIG": str(config), "KUBECONFIG": str(Path(tmp) / "none")}
        theirs = median_of(repeat, lambda: diff_sync.measure([kubectl, "--help"], env=env, ok=(0,)))
        mine = median_of(
            repeat, lambda: diff_sync.measure([sys.executable, "-m", "plumbline", "--help"], env=env, ok=(0,))
        )
    return [
        Row(
            measure="`plumb --help`",
            reference=f"`kubectl --help`: {theirs.seconds:.2f} s",
            now=f"{mine.seconds:.2f} s",
            goal="≤ 0.3 s",
            met="yes" if mine.seconds <= 0.3 else "no",
        )
    ]


def sync_rows(n: int, full_n: int, repeat: int, plane: ControlPlane, work: Path) -> list[Row]:
    kubectl = toolchain.binary("kubectl")
    runs = [diff_sync.bench(n, rep, plane, work, kubectl) for rep in range(repeat)]
    by_name: dict[str, tuple[diff_sync.Run, diff_sync.Run]] = {}
    for index, (operation, _, _) in enumerate(runs[0]):
        by_name[operation] = (
            diff_sync.median([r[index][1] for r in runs]),
            diff_sync.median([r[index][2] for r in runs]),
        )
    rows: list[Row] = []
    wanted = [
        ("sync / apply", "`plumb sync` / `kubectl apply --server-side`, new objects", 0.7, "kubectl apply"),
        ("sync (no changes)", "`plumb sync` with nothing to change / `kubectl apply`", 0.2, "kubectl apply"),
        (
            "diff (no changes)",
            "`plumb diff` / `kubectl diff --server-side`, no changes",
            0.15,
            "kubectl diff",
        ),
    ]
    for operation, measure, goal, who in wanted:
        if operation not in by_name:
            missing = "not measured (bench/diff_sync.py)"
            rows.append(
                Row(
                    f"{measure}, N = {n}",
                    who,
                    missing,
                    f"≤ {goal}×",
                    judged(False, n == full_n, f"N = {full_n}"),
                )
            )
            continue
        theirs, mine = by_name[operation]
        rows.append(ratio_row(measure, n, full_n, mine.seconds, theirs.seconds, goal, who))
    return rows


def note(what: str) -> None:
    """Progress on stderr (a full run takes most of an hour)."""
    print(f"  {datetime.datetime.now(datetime.UTC):%H:%M:%S} {what}", file=sys.stderr, flush=True)


def controller_rows(args: argparse.Namespace, plane: ControlPlane, work: Path) -> list[Row]:
    apps, objects = args.apps, args.objects
    full = (apps, objects) == (1000, 10)
    size = f"{apps} apps × {objects} objects"
    with scale.scene(work / "scale", plane, apps, objects, repos=apps) as s:
        note(f"{size}: the first --once creates every object")
        created = s.once(ok=(0, 1, 2))
        note(f"created in {created.seconds:.0f} s (exit {created.code}); --once x {args.once_repeat}")
        once = median_of(args.once_repeat, s.once) if args.once_repeat else None
        note(f"--once: {once.seconds if once else 0:.1f} s; a long-running controller")
        with scale.controller(s, interval=args.interval) as running:
            rounds = scale.measure_rounds(running, apps, args.rounds)
            note(f"rounds {[round(r, 1) for r in rounds.rounds_s]}; {args.edits} edits under commits")
            drift = drift_latency.under_load(s, edits=args.edits, commit_every=1.0, wait=args.wait)
            peak_mb = running.status("VmHWM") / 1024
            threads = int(running.status("Threads"))
        note(f"edits: p50 {drift.show(0.5)} s, p95 {drift.show(0.95)} s; kubectl apply x {args.repeat + 1}")
        s.kubectl_apply()  # takes the edited fields back and applies the last commits: then nothing to change
        kubectl = median_of(args.repeat, s.kubectl_apply)
    print(
        f"  long-running controller: first round {rounds.first_s:.1f} s, rounds {rounds.rounds_s} "
        f"({rounds.measured_by}), {threads} threads, {rounds.errors} passes in error; "
        f"drift: {drift.commits} commits, {drift.unseen} edits not seen",
        file=sys.stderr,
    )
    reference = f"`kubectl apply --server-side` of the same: {kubectl.seconds:.1f} s"
    return [
        Row(
            f"controller round, nothing to change, {size} (long-running; median of {args.rounds})",
            reference,
            f"{rounds.median_s:.1f} s",
            "≤ 30 s at 1000 × 10",
            judged(rounds.median_s <= 30, full, "1000 × 10"),
        ),
        Row(
            f"`plumb controller --once`, nothing to change, {size} "
            f"(a cold process; median of {args.once_repeat})",
            reference,
            f"{once.seconds:.1f} s" if once else "not measured (--once-repeat 0)",
            "— (for comparison)",
            "—",
        ),
        Row(
            f"controller peak RSS, {size} (long-running, to the end of the edits)",
            f"`kubectl apply`: {kubectl.peak_mb:.0f} MB",
            f"{peak_mb:.0f} MiB ({threads} threads)",
            "≤ 300 MiB at 1000 × 10",
            judged(peak_mb <= 300, full, "1000 × 10"),
        ),
        Row(
            f"live edit → OutOfSync (Drift Event), {size}, {drift.commits} commits meanwhile",
            "—",
            f"p50 {drift.show(0.5)} s, p95 {drift.show(0.95)} s ({len(drift.seconds) + drift.unseen} edits)",
            "p95 ≤ 2 s at 1000 apps",
            judged(drift.quantile(0.95) <= 2, apps == 1000, "1000 apps"),
        ),
    ]


def print_table(rows: list[Row]) -> None:
    print("| measure | reference | now | goal | met? |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.measure} | {row.reference} | {row.now} | {row.goal} | {row.met} |")


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each: a smoke run")
    parser.add_argument("--apps", type=int, help="default 1000 (quick: 6)")
    parser.add_argument("--objects", type=int, help="ConfigMaps per app; default 10 (quick: 2)")
    parser.add_argument("--n", type=int, help="objects for sync and diff; default 1000 (quick: 30)")
    parser.add_argument("--repeat", type=int, help="runs per measure, medians; default 3 (quick: 1)")
    parser.add_argument(
        "--once-repeat", type=int, help="cold --once passes (each minutes at 1000 apps); default --repeat"
    )
    parser.add_argument("--rounds", type=int, help="controller rounds read; default 3 (quick: 2)")
    parser.add_argument("--edits", type=int, help="live edits, one a second; default 60 (quick: 3)")
    parser.add_argument("--interval", type=float, help="the controller's Git poll, s; default 10 (quick: 2)")
    parser.add_argument("--wait", type=float, help="for the last edits' Events, s; default 180 (quick: 60)")
    args = parser.parse_args(argv)
    defaults: dict[str, float] = {
        "apps": 1000,
        "objects": 10,
        "n": 1000,
        "repeat": 3,
        "rounds": 3,
        "edits": 60,
    }
    defaults |= {"interval": 10.0, "wait": 180.0}
    quick: dict[str, float] = {
        "apps": 6,
        "objects": 2,
        "n": 30,
        "repeat": 1,
        "rounds": 2,
        "edits": 3,
        "interval": 2.0,
        "wait": 60.0,
    }
    for key, value in (quick if args.quick else defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.once_repeat is None:
        args.once_repeat = args.repeat
    return args


def run(args: argparse.Namespace, plane: ControlPlane) -> list[Row]:
    """Every row of the table, measured on ``plane``; prints when and under what load."""
    began = time.monotonic()
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="plumbline-table-") as tmp:
        note("start-up")
        rows = startup_rows(args.repeat)
        note(f"sync and diff at N = {args.n}")
        rows += sync_rows(args.n, 1000, args.repeat, plane, Path(tmp))
        load.append(os.getloadavg()[0])
        rows += controller_rows(args, plane, Path(tmp))
        load.append(os.getloadavg()[0])
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
        f"(1 min) at start, middle, end: {', '.join(f'{one:.1f}' for one in load)}; "
        f"median of {args.repeat}; {time.monotonic() - began:.0f} s"
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    args = options(argv)
    with ControlPlane.temporary(controller_manager=False) as plane:
        rows = run(args, plane)
    print_table(rows)


if __name__ == "__main__":
    main()
