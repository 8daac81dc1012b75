"""The controller's configuration reader parses the files again only when one changed: a poll every
interval over a large configuration costs a stat per file, not a YAML parse (counted)."""

from __future__ import annotations

import os
from pathlib import Path

from plumbline.engine import ConfigReader
from tests.support.config import app_yaml


def test_the_files_are_parsed_again_only_when_one_changed(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "a.yaml").write_text(app_yaml("a", namespace="ns-a"))
    reader = ConfigReader(str(folder))
    first = reader()
    assert reader() is first and reader() is first
    assert reader.parsed == 1

    (folder / "b.yaml").write_text(app_yaml("b", namespace="ns-b"))  # a file added
    assert sorted(reader().apps) == ["a", "b"]
    assert reader.parsed == 2

    path = folder / "a.yaml"
    stat = path.stat()
    path.write_text(app_yaml("a", namespace="ns-c"))  # the same size: the time tells
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert reader().apps["a"].spec.destination.namespace == "ns-c"
    assert reader.parsed == 3

    (folder / "b.yaml").unlink()  # a file removed
    assert sorted(reader().apps) == ["a"]
    assert reader.parsed == 4
    assert reader() is reader()
    assert reader.parsed == 4
