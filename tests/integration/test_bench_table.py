"""`make bench`'s runner (bench/table.py) at its smallest sizes, so the scripts do not rot: every row
of issue 16's table is there and measured. Nothing here is timed — the rows are counted."""

from __future__ import annotations

import pytest

from bench import table
from plumbline.local import ControlPlane

pytestmark = pytest.mark.integration

MEASURES = (
    "`plumb --help`",
    "`plumb sync` / `kubectl apply --server-side`, new objects",
    "`plumb sync` with nothing to change",
    "`plumb diff` / `kubectl diff --server-side`",
    "controller round, nothing to change",
    "`plumb controller --once`",
    "controller peak RSS",
    "live edit → OutOfSync",
)


def test_quick_table_has_every_row(control_plane: ControlPlane, capsys: pytest.CaptureFixture[str]) -> None:
    rows = table.run(table.options(["--quick"]), control_plane)
    table.print_table(rows)
    printed = capsys.readouterr().out
    assert [next(m for m in MEASURES if row.measure.startswith(m)) for row in rows] == list(MEASURES)
    body = [line for line in printed.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(body) == 1 + len(MEASURES)  # the header and one line per measure
    assert all(line.count(" | ") == 4 for line in body)
    edits = next(row for row in rows if row.measure.startswith("live edit"))
    assert "(3 edits)" in edits.now and "> " not in edits.now  # every edit's Drift Event arrived
    assert all(row.met.startswith("n/a") for row in rows[1:] if row.met != "—")  # quick sizes are not judged
