"""Benchmark: the dashboard's page of an app whose plan has N objects, in Debian's headless Chromium.

A local control plane started here, a Git repository of N ConfigMaps (none in the cluster yet: N
creates, each with its diff), `plumb ui` serving it. Prints, per N, the server's time (plan, guards,
rebuildability, page), the browser's (parse, style, layout to the load event) and opening one object's
diff (click to the frame after it is painted) — the same measurement the browser test holds to budget
(tests/integration/test_dashboard_browser.py).

    .venv/bin/python bench/dashboard.py            # N = 100, 1000, 3000
    .venv/bin/python bench/dashboard.py 500        # other sizes
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, from a checkout

from plumbline.local import ControlPlane
from tests.support.browser import chromium, measure_plan_page
from tests.support.sites import Workspace
from tests.support.web import ui

ONE = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{n:05d}\ndata:\n  KEY: value-{n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 3000])
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ControlPlane.temporary(controller_manager=False) as plane,
        chromium() as browser,
    ):
        for size in args.sizes:
            (Path(tmp) / f"n{size}").mkdir()
            ws = Workspace(Path(tmp) / f"n{size}", plane)
            (ws.repo / "big").mkdir()
            (ws.repo / "big" / "all.yaml").write_text("".join(ONE.format(n=n) for n in range(size)))
            ws.commit(f"{size} objects")
            ws.add_app("big", "big", f"bench-{size}")
            with ui(ws.env) as served:
                measured = measure_plan_page(
                    browser, served.url + "/apps/big", open_diff_of=f"cm-{size // 2:05d}"
                )
            print(f"N = {size:>5}: {measured}", flush=True)


if __name__ == "__main__":
    main()
