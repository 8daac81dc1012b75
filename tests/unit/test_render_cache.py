"""The controller's render cache (plumbline.render.RenderCache): real plain renders, counted where
they run; the cache is bounded, keeps nothing a failed render, and a caller's changes to the objects
it got never reach the kept render."""

from __future__ import annotations

from pathlib import Path

import pytest

from plumbline.errors import RenderError
from plumbline.render import Manifest, RenderCache, render, render_count


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cart-env\ndata:\n  COLOUR: blue\n"
    )
    return tmp_path


def test_a_kept_render_is_not_run_again_and_changes_to_it_stay_with_the_caller(app: Path) -> None:
    cache = RenderCache()
    before = render_count()
    first = cache.get_or_render("k", lambda: render(app, "app"))
    first[0].obj["data"]["COLOUR"] = "red"  # what the plan does to its copy (namespace defaults...)
    again = cache.get_or_render("k", lambda: render(app, "app"))
    assert render_count() - before == 1
    assert again[0].obj["data"] == {"COLOUR": "blue"}
    assert (cache.hits, cache.misses) == (1, 1)


def test_the_cache_keeps_at_most_its_size_dropping_the_least_recently_used(app: Path) -> None:
    cache = RenderCache(size=2)
    before = render_count()
    for key in ("a", "b", "a", "c"):  # "a" used again, so "b" is the one dropped for "c"
        cache.get_or_render(key, lambda: render(app, "app"))
    assert len(cache) == 2
    assert render_count() - before == 3
    cache.get_or_render("a", lambda: render(app, "app"))
    assert render_count() - before == 3
    cache.get_or_render("b", lambda: render(app, "app"))
    assert render_count() - before == 4


def test_a_failed_render_keeps_nothing(app: Path) -> None:
    cache = RenderCache()

    def broken() -> list[Manifest]:
        return render(app, "missing")

    for _ in range(2):
        with pytest.raises(RenderError, match="missing"):
            cache.get_or_render("k", broken)
    assert len(cache) == 0
    assert cache.misses == 2
