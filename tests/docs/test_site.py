"""The built documentation site (`make docs` -> docs/_build/html), checked after the build:
every internal link resolves, and the index and the 8.6 tutorial open in headless Chromium
with the held-out perplexity that tutorial 2 computed (docs/_build/results/concise_rnn.json)
on the page.

Marked `docs` and left out of the default run; CI runs `pytest -m docs` after `make docs`,
and there a missing site, browser or Playwright is a failure, not a skip.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import chromium

pytestmark = pytest.mark.docs

BUILD = Path(__file__).resolve().parents[2] / "docs" / "_build"
SITE = BUILD / "html"
TUTORIAL_8_6 = SITE / "auto_tutorials" / "plot_2_concise_rnn.html"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


class _Page(HTMLParser):
    """The ids a page defines and the links (href, src) it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            if name in ("href", "src") and value:
                self.links.append(value)


def _parse(page: Path) -> _Page:
    parsed = _Page()
    parsed.feed(page.read_text(encoding="utf-8"))
    return parsed


def _internal(link: str) -> bool:
    scheme = urlsplit(link).scheme
    return scheme == "" and not link.startswith("//")


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run make docs first")
    return SITE


def test_every_internal_link_resolves(site: Path) -> None:
    # the site's pages; the theme's Jinja templates under _static/ are assets, not pages
    pages = {page: _parse(page) for page in site.rglob("*.html") if "_static" not in page.parts}
    broken = []
    for page, parsed in pages.items():
        for link in filter(_internal, parsed.links):
            parts = urlsplit(link)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = (pages.get(target) or _parse(target)).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    assert len(pages) > 10
    assert not broken, "\n".join(broken)


def test_every_tutorial_was_executed(site: Path) -> None:
    pages = sorted((site / "auto_tutorials").glob("plot_*.html"))
    assert len(pages) == 7, [page.name for page in pages]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "Total running time of the script" in text, page.name
        assert "sphx-glr-script-out" in text, f"{page.name} shows no output"


def test_index_and_the_8_6_tutorial_in_chromium(site: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")  # a dev dependency: never absent in CI
    binary = chromium()
    if binary is None:
        pytest.fail("Chromium not found: make chromium (as root) or set RNNKIT_CHROMIUM")
    results = json.loads((BUILD / "results" / "concise_rnn.json").read_text())
    perplexity = f"{results['perplexity']:.2f}"
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=binary, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = context.new_page()
            page.goto((site / "index.html").as_uri())
            assert "rnnkit" in page.title()
            page.get_by_role("link", name="tutorials").first.click()
            page.wait_for_load_state()
            assert page.url.endswith("auto_tutorials/index.html"), page.url
            page.goto(TUTORIAL_8_6.as_uri())
            body = page.inner_text("body")
            assert "The concise RNN language model (8.6)" in page.title()
            assert f"held-out perplexity (best checkpoint): {perplexity}" in body
            assert page.locator("img.sphx-glr-single-img").count() >= 1  # the training figure
        finally:
            context.close()
