"""The `rnnkit inspect` page opens in a real headless Chromium (Debian's `chromium`, driven by
Playwright for Python, as the playground's browser test) and asks for nothing but itself.

Skipped with the reason when Chromium or Playwright is missing; `pytest -m browser` runs only
the browser tests. `RNNKIT_CHROMIUM` names another browser binary.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import chromium
from rnnkit.config import RunConfig, apply_overrides
from rnnkit.lm.inspect import trace
from rnnkit.lm.inspect_page import build_page
from rnnkit.lm.load import LoadedLM
from rnnkit.lm.model import RNNLM
from rnnkit.text.vocab import Vocab

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)"
)

TEXT = 'def f(x):\n    return "a (b)" + x  # see https://example.com\n' * 20


def _page(path: Path) -> Path:
    """The page of an untrained 2-layer LSTM over TEXT, written to `path`."""
    cfg = RunConfig()
    apply_overrides(cfg, ["model.hidden_size=16", "model.num_layers=2"])
    vocab = Vocab.build(TEXT)
    lm = LoadedLM(model=RNNLM.from_config(cfg.model, len(vocab)).eval(), vocab=vocab, config=cfg)
    page, _ = build_page(trace(lm, TEXT), "an untrained LSTM")
    path.write_text(page, encoding="utf-8")
    return path


def test_the_page_opens_offline(tmp_path: Path) -> None:
    binary = chromium()
    if binary is None:
        pytest.skip("Chromium not found: apt-get install -y chromium (or set RNNKIT_CHROMIUM)")
    torch.manual_seed(0)
    path = _page(tmp_path / "inspect.html")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=binary, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page(viewport={"width": 1100, "height": 800})
            urls: list[str] = []
            errors: list[str] = []
            tab.on("request", lambda req: urls.append(req.url))
            tab.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            tab.goto(path.as_uri())
            assert tab.locator("h2").all_inner_texts() == [
                "Readable cells",
                "The text, coloured by cells",
                "Gate saturation",
            ]
            assert tab.locator("table tr").count() == 7  # a header and six properties
            width = tab.eval_on_selector("img", "img => img.complete && img.naturalWidth")
            assert width > 300  # the inline PNG decoded
            assert "https://example.com" in tab.inner_text("pre.text")
            tab.screenshot(path=str(tmp_path / "inspect.png"))
        finally:
            browser.close()
    assert [u for u in urls if not u.startswith("data:")] == [path.as_uri()], urls
    assert not errors, errors
