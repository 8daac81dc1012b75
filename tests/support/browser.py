"""A real headless Chromium — Debian's, at /usr/bin/chromium, installed by `make test` (never a browser
download: no ``playwright install``) — driven by Playwright's Python API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """The browser (a Playwright ``Browser``), closed afterwards. Raises FileNotFoundError when Debian's
    Chromium is not installed (``make test`` installs it: ``apt-get install chromium``)."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM}: Debian's chromium is not installed (make chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


OPEN_AND_PAINT = """async (summary) => {
  const began = performance.now();
  summary.click();
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return performance.now() - began;
}"""
NAVIGATION = """(() => { const t = performance.getEntriesByType('navigation')[0];
  return {server: t.responseStart - t.requestStart, render: t.loadEventEnd - t.responseEnd}; })()"""


@dataclass
class PlanPage:
    """How long an app's page took: the server (plan and page), the browser (parse, style, lay out to
    the load event), and opening one object's diff (click to the frame after it is painted), seconds."""

    server_s: float
    render_s: float
    expand_s: float
    objects: int

    def __str__(self) -> str:
        return (
            f"{self.objects} objects shown: server {self.server_s:.2f}s (plan and page), browser render "
            f"{self.render_s:.2f}s, open one diff {self.expand_s * 1000:.0f}ms"
        )


def measure_plan_page(browser: Any, url: str, *, open_diff_of: str) -> PlanPage:
    """Load ``url`` (an app's page) at 1280 px and open the diff whose summary names ``open_diff_of``."""
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(url, timeout=300_000, wait_until="load")
        timing = page.evaluate(NAVIGATION)
        objects = page.locator("article.object").count()
        summary = page.locator("details.diff summary", has_text=open_diff_of)
        summary.scroll_into_view_if_needed()
        expand_ms = summary.evaluate(OPEN_AND_PAINT)
        opened = page.locator("details.diff[open] pre").inner_text()
        assert open_diff_of in page.locator("details.diff[open] summary").inner_text() and opened
        return PlanPage(timing["server"] / 1000, timing["render"] / 1000, expand_ms / 1000, objects)
    finally:
        page.close()
