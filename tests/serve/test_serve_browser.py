"""The playground end to end in a real headless Chromium (Debian's `chromium`, driven by
Playwright for Python): type a prefix, click Generate, watch the text stream in, Stop.

Runs in the default `pytest` run whenever Chromium and Playwright are installed, and is
skipped with the reason otherwise; `pytest -m browser` runs only these. Set
`RNNKIT_CHROMIUM` to use another browser binary and `RNNKIT_SCREENSHOTS` to a folder to
keep a copy of the screenshots.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

pytest.importorskip("fastapi", reason="the playground needs pip install 'rnnkit[serve]'")
httpx = pytest.importorskip("httpx", reason="the browser tests need httpx")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)"
)

import rnnkit  # noqa: E402
from conftest import chromium  # noqa: E402
from rnnkit.serve import create_app  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium with a fresh profile for the module; Playwright's downloads are not used."""
    binary = chromium()
    if binary is None:
        pytest.skip("Chromium not found: apt-get install -y chromium (or set RNNKIT_CHROMIUM)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=binary,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A fresh tab that records console errors and every URL it asks for."""
    tab = browser_context.new_page()
    tab.errors = []  # type: ignore[attr-defined]
    tab.urls = []  # type: ignore[attr-defined]
    tab.on("console", lambda msg: msg.type == "error" and tab.errors.append(msg.text))
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("request", lambda req: tab.urls.append(req.url))
    yield tab
    tab.close()


def _screenshot(page: Any, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("RNNKIT_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def _set(page: Any, **values: Any) -> None:
    for name, value in values.items():
        page.fill(f"#{name}", str(value))


def _columns(page: Any) -> list[str]:
    return page.eval_on_selector_all(".sample pre", "els => els.map(e => e.textContent)")


def test_type_generate_and_watch_it_stream(
    page: Any, en_url: str, en_run: Path, tmp_path: Path
) -> None:
    page.goto(en_url)
    page.wait_for_selector("#facts dt")  # the model card arrived
    assert "Vocabulary" in page.inner_text("#facts")
    assert page.locator("#curves svg polyline").count() == 2  # train and val curves
    prefix = "The Time Traveller "
    page.fill("#prefix", prefix)
    _set(page, length=160, temperature=0.8, top_k=0, top_p=0.95, num_samples=3, seed=11)
    page.click("#generate")
    page.wait_for_selector("body[data-state=done]", timeout=20_000)
    expected = rnnkit.generate(
        rnnkit.load(en_run), prefix, 160, temperature=0.8, top_p=0.95, num_samples=3, seed=11
    )
    assert _columns(page) == expected  # "the time traveller ..." after d2l normalisation
    assert page.locator(".sample").count() == 3
    assert "done: 160 tokens" in page.inner_text("#status") and "seed 11" in page.inner_text(
        "#status"
    )
    shot = _screenshot(page, tmp_path / "playground.png")
    assert shot.stat().st_size > 10_000
    assert not page.errors, page.errors
    assert all(url.startswith(en_url) or url.startswith("data:") for url in page.urls), page.urls


def test_text_appears_step_by_step_and_stop_ends_it(
    page: Any,
    en_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_server: Callable[[Any], str],
) -> None:
    real = rnnkit.LoadedLM.stream  # the playground calls its model's stream

    def slow(*args: Any, **kwargs: Any) -> Iterator[list[str]]:
        inner = real(*args, **kwargs)

        def steps() -> Iterator[list[str]]:
            for tokens in inner:
                time.sleep(0.02)  # slow enough to watch the columns grow
                yield tokens

        return steps()

    monkeypatch.setattr(rnnkit.LoadedLM, "stream", slow)
    url = start_server(create_app(en_run))
    page.goto(url)
    page.wait_for_selector("#facts dt")
    page.fill("#prefix", "his grey eyes ")
    _set(page, length=2000, num_samples=2, seed=3)
    page.click("#generate")
    lengths = []
    for _ in range(3):  # the columns keep growing while the stream runs
        page.wait_for_function(
            "n => document.querySelector('.sample pre').textContent.length > n",
            arg=len("his grey eyes ") + 10 * (len(lengths) + 1),
        )
        lengths.append(len(_columns(page)[0]))
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]
    assert page.is_enabled("#stop") and not page.is_enabled("#generate")
    _screenshot(page, tmp_path / "playground-streaming.png")
    page.click("#stop")
    page.wait_for_selector("body[data-state=stopped]")
    assert page.inner_text("#status").startswith("stopped after")
    stopped = _columns(page)

    for _ in range(50):  # the server's worker stops with the browser's request
        if httpx.get(f"{url}/api/health").json()["running"] == 0:
            break
        page.wait_for_timeout(100)
    assert httpx.get(f"{url}/api/health").json()["running"] == 0
    assert _columns(page) == stopped and len(stopped[0]) < len("his grey eyes ") + 2000
    assert page.is_enabled("#generate")
    assert not page.errors, page.errors


def test_chinese_in_the_browser(page: Any, zh_url: str, zh_run: Path) -> None:
    page.goto(zh_url)
    page.wait_for_selector("#facts dt")
    assert page.input_value("#prefix") == "我们"  # the run's own first prefix
    _set(page, length=80, num_samples=2, seed=4, temperature=1)
    page.click("#generate")
    page.wait_for_selector("body[data-state=done]", timeout=20_000)
    expected = rnnkit.generate(rnnkit.load(zh_run), "我们", 80, num_samples=2, seed=4)
    assert _columns(page) == expected
    assert not page.errors, page.errors


def test_bad_options_show_the_servers_message(page: Any, en_url: str) -> None:
    page.goto(en_url)
    page.wait_for_selector("#facts dt")
    _set(page, length=5000)
    page.click("#generate")
    page.wait_for_selector("body[data-state=error]")
    status = page.inner_text("#status")
    assert status.startswith("422: length must be an integer in [1, 2000], got 5000")
