"""`rnnkit inspect`: states and gates equal the model's own forward pass, a planted cell is
found, the page is self-contained, and the command runs end to end on a tiny run."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.config import RunConfig, apply_overrides
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.lm.inspect import (
    PROPERTIES,
    gate_saturation,
    load_for_inspect,
    readable_cells,
    text_properties,
    trace,
)
from rnnkit.lm.inspect_page import build_page
from rnnkit.lm.load import LoadedLM
from rnnkit.lm.model import RNNLM
from rnnkit.lm.train import train_lm
from rnnkit.text.tokenize import WordTokenizer
from rnnkit.text.vocab import Vocab

TEXT = 'def f(x):\n    return "a (b)" + x  # say "hi"\n\nprint(f("c"), [1, 2])\n' * 3
QUOTE, COUNTER = 1, 3  # the planted cells of `planted_lm`


def make_lm(text: str, *overrides: str, seed: int = 0) -> LoadedLM:
    """An untrained model (random weights, seeded) with a vocabulary of `text`'s tokens."""
    cfg = RunConfig()
    apply_overrides(cfg, ["model.hidden_size=8", "model.embedding_dim=5", *overrides])
    spec = WordTokenizer.from_data(cfg.data) if cfg.data.level == "word" else None
    vocab = Vocab.build(text if spec is None else spec.tokenize(text))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RNNLM.from_config(cfg.model, len(vocab))
        for p in model.parameters():  # larger than the default init: gates far from 0.5
            torch.nn.init.uniform_(p, -1.0, 1.0)
    return LoadedLM(model=model.eval(), vocab=vocab, config=cfg)


def _forward(lm: LoadedLM, ids: np.ndarray) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """The model's own core over the ids: outputs (T, H) and final state parts (L, H)."""
    x = torch.from_numpy(ids)[None]  # (1, T)
    with torch.no_grad():
        inputs = x if lm.model.embedding is None else lm.model.embedding(x)
        out, state = lm.model.core(inputs)
    parts = state if isinstance(state, tuple) else (state,)
    return out[0], tuple(p[:, 0] for p in parts)


@pytest.mark.parametrize(
    "overrides",
    [
        ("model.kind=lstm", "model.impl=torch", "model.num_layers=2"),
        ("model.kind=lstm", "model.impl=scratch", "model.num_layers=2"),
        ("model.kind=lstm", "model.impl=fused"),
        ("model.kind=gru", "model.impl=torch", "model.num_layers=2"),
        (
            "model.kind=gru",
            "model.impl=scratch",
            "model.input_mode=onehot",
            "model.embedding_dim=0",
        ),
        ("model.kind=rnn", "model.impl=torch"),
    ],
)
def test_states_equal_the_models_forward_pass(overrides: tuple[str, ...]) -> None:
    lm = make_lm(TEXT, *overrides)
    t = trace(lm, TEXT)
    out, finals = _forward(lm, t.ids)
    assert len(t.tokens) == len(TEXT) and t.tokens == list(TEXT)
    assert np.abs(t.layers[-1].h - out.numpy()).max() < 1e-6
    for k, layer in enumerate(t.layers):
        assert np.abs(layer.h[-1] - finals[0][k].numpy()).max() < 1e-6
        if layer.c is not None:
            assert np.abs(layer.c[-1] - finals[1][k].numpy()).max() < 1e-6
    kind = lm.model.kind
    assert sorted(t.layers[0].gates) == sorted({"lstm": "ifgo", "gru": "rnz", "rnn": ""}[kind])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_lstm_gates_equal_a_recomputation_from_the_weights(impl: str) -> None:
    lm = make_lm(TEXT, "model.kind=lstm", f"model.impl={impl}", "model.num_layers=2")
    t = trace(lm, TEXT)
    w = {k: v.double().numpy() for k, v in lm.model.core.state_dict().items()}
    x = lm.model.embedding.weight.detach().double().numpy()[t.ids]  # (T, E)
    for k, layer in enumerate(t.layers):
        h_prev = np.vstack([np.zeros((1, 8)), layer.h[:-1]])  # (T, H)
        c_prev = np.vstack([np.zeros((1, 8)), layer.c[:-1]])  # (T, H)
        pre = x @ w[f"weight_ih_l{k}"].T + w[f"bias_ih_l{k}"]
        pre = pre + h_prev @ w[f"weight_hh_l{k}"].T + w[f"bias_hh_l{k}"]  # (T, 4H)
        i, f, g, o = np.split(pre, 4, axis=1)
        expected = {"i": _sigmoid(i), "f": _sigmoid(f), "g": np.tanh(g), "o": _sigmoid(o)}
        for name, value in expected.items():
            assert np.abs(layer.gates[name] - value).max() < 1e-6, (k, name)
        c = expected["f"] * c_prev + expected["i"] * expected["g"]
        assert np.abs(layer.c - c).max() < 1e-6
        x = layer.h.astype(np.float64)  # the next layer's input


def test_gru_gates_equal_a_recomputation_from_the_weights() -> None:
    lm = make_lm(TEXT, "model.kind=gru")
    t = trace(lm, TEXT)
    w = {k: v.double().numpy() for k, v in lm.model.core.state_dict().items()}
    x = lm.model.embedding.weight.detach().double().numpy()[t.ids]  # (T, E)
    layer = t.layers[0]
    h_prev = np.vstack([np.zeros((1, 8)), layer.h[:-1]])  # (T, H)
    gi = np.split(x @ w["weight_ih_l0"].T + w["bias_ih_l0"], 3, axis=1)
    gh = np.split(h_prev @ w["weight_hh_l0"].T + w["bias_hh_l0"], 3, axis=1)
    r, z = _sigmoid(gi[0] + gh[0]), _sigmoid(gi[1] + gh[1])
    n = np.tanh(gi[2] + r * gh[2])
    for name, value in {"r": r, "z": z, "n": n}.items():
        assert np.abs(layer.gates[name] - value).max() < 1e-6, name
    assert np.abs(layer.h - ((1 - z) * n + z * h_prev)).max() < 1e-6


def test_text_properties_are_read_left_to_right() -> None:
    p = text_properties('a "b"\n  (x)')
    assert list(p) == list(PROPERTIES)
    assert p["quotes"].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert p["brackets"].tolist() == [0] * 8 + [1, 1, 0]
    assert p["line_position"].tolist() == [1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]
    assert p["indent"].tolist() == [0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2]
    assert p["word"].tolist() == [1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]
    assert p["newline"].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def planted_text(lines: int = 120, seed: int = 0) -> str:
    """Lines of random letters and spaces (none indented), some with a quoted part."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefgh  "))
    out = []
    for _ in range(lines):
        words = "a" + "".join(rng.choice(letters, size=int(rng.integers(5, 50))))
        if rng.random() < 0.6:
            cut = int(rng.integers(0, len(words)))
            words = f'{words[:cut]}"{words[cut : cut + int(rng.integers(3, 20))]}"{words[cut:]}'
        out.append(words)
    return "\n".join(out) + "\n"


def planted_lm(text: str) -> LoadedLM:
    """A one-hot LSTM with random weights in which cell QUOTE flips between +1 and -1 at every
    double quote and cell COUNTER adds 0.05 per character and is reset by a newline."""
    lm = make_lm(text, "model.kind=lstm", "model.input_mode=onehot", "model.embedding_dim=0")
    core, v, hidden = lm.model.core, lm.vocab, 8
    q, nl = v.token_to_idx['"'], v.token_to_idx["\n"]
    gate = {name: k * hidden for k, name in enumerate("ifgo")}  # first row of each gate
    with torch.no_grad():
        w_ih, w_hh = core.weight_ih_l0, core.weight_hh_l0  # (4H, V), (4H, H)
        b_ih, b_hh = core.bias_ih_l0, core.bias_hh_l0
        for cell in (QUOTE, COUNTER):
            for row in (gate[n] + cell for n in "ifgo"):
                w_ih[row], w_hh[row], b_ih[row], b_hh[row] = 0.0, 0.0, 0.0, 0.0
            b_ih[gate["o"] + cell] = 20.0  # output gate open: h = tanh(c)
        # QUOTE: at a quote forget and write g = tanh(20 (0.5 - h)), the opposite sign.
        w_ih[gate["i"] + QUOTE, q], b_ih[gate["i"] + QUOTE] = 40.0, -20.0
        w_ih[gate["f"] + QUOTE, q], b_ih[gate["f"] + QUOTE] = -40.0, 20.0
        w_hh[gate["g"] + QUOTE, QUOTE], b_ih[gate["g"] + QUOTE] = -20.0, 10.0
        # COUNTER: keep and add atanh(0.05) each character; a newline forgets and adds nothing.
        w_ih[gate["i"] + COUNTER, nl], b_ih[gate["i"] + COUNTER] = -40.0, 20.0
        w_ih[gate["f"] + COUNTER, nl], b_ih[gate["f"] + COUNTER] = -40.0, 20.0
        b_ih[gate["g"] + COUNTER] = float(np.arctanh(0.05))
    return lm


def test_the_planted_cells_are_found() -> None:
    text = planted_text()
    t = trace(planted_lm(text), text)
    found = {m.name: m for m in readable_cells(t, top=3)}
    quotes, position = found["quotes"].cells[0], found["line_position"].cells[0]
    assert (quotes.layer, quotes.cell) == (0, QUOTE) and quotes.r > 0.95
    assert (position.layer, position.cell) == (0, COUNTER) and position.r > 0.99
    assert found["quotes"].tracked and len(found["quotes"].cells) == 3
    assert not found["indent"].cells  # no line is indented: nothing to correlate with
    sats = gate_saturation(t)
    assert [(s.layer, s.gate) for s in sats] == [(0, "i"), (0, "f"), (0, "o")]
    out = {s.gate: s for s in sats}["o"]
    assert out.right[QUOTE] == 1.0 and out.left[QUOTE] == 0.0  # always open


def _check_self_contained(page: str) -> None:
    assert "http" not in page.lower()
    assert "<script" not in page and "<link" not in page and "url(" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    for s in sources:
        assert base64.b64decode(s.split(",", 1)[1]).startswith(b"\x89PNG")


def test_the_page_is_self_contained() -> None:
    text = planted_text(lines=40) + "see http://example.com and HTTPS://x\n"
    t = trace(planted_lm(text), text)
    page, _ = build_page(t, "planted <model>")
    _check_self_contained(page)
    assert page.count('src="data:image/png;base64,') == 1
    assert "planted &lt;model&gt;" in page and "inside double quotes" in page
    assert f"layer 0, cell {QUOTE}: inside double quotes" in page
    shown = html.unescape(re.sub(r"<[^>]*>", "", page))  # the page's text, as a reader sees it
    assert "see http://example.com and HTTPS://x" in shown
    page, _ = build_page(t, "one cell", layer=0, cell=COUNTER)
    assert page.count("<pre class=text>") == 1
    assert f"layer 0, cell {COUNTER}: closest to position in the line" in page
    with pytest.raises(ConfigError, match=r"cell must be in \[0, 7\]"):
        build_page(t, "x", layer=0, cell=8)
    with pytest.raises(ConfigError, match="both layer and cell"):
        build_page(t, "x", layer=0)


def test_a_plain_rnn_has_states_only() -> None:
    t = trace(make_lm(TEXT, "model.kind=rnn"), TEXT)
    assert t.layers[0].gates == {} and t.layers[0].c is None and gate_saturation(t) == []
    page, _ = build_page(t, "rnn")
    _check_self_contained(page)
    assert "A plain RNN has no gates" in page and "data:image/png" not in page


def test_word_level_tokens_and_spans() -> None:
    text = 'He said "Hello, World" (twice).\nThen left.\n'
    lm = make_lm(text, "data.level=word", "data.lowercase=true", "model.kind=gru")
    t = trace(lm, text)
    tokenizer = WordTokenizer.from_data(lm.config.data)
    assert t.tokens == tokenizer.tokenize(text) and t.level == "word"
    assert t.text == text.lower()
    assert [t.text[a:b] for a, b in t.spans] == t.tokens
    props = {m.name: m for m in readable_cells(t)}
    assert props["quotes"].cells  # "hello" and "," and "world" are inside the quotes
    _check_self_contained(build_page(t, "words")[0])


def test_max_tokens_and_errors(tmp_path: Path) -> None:
    lm = make_lm(TEXT, "model.kind=lstm")
    t = trace(lm, TEXT + "\u00e9", max_tokens=10)
    assert len(t.tokens) == 10 and t.text == TEXT[:10] and t.unknown == 0
    assert trace(lm, "x\u00e9").unknown == 1
    with pytest.raises(ConfigError, match="no tokens"):
        trace(lm, "")
    export = tmp_path / "export"
    export.mkdir()
    (export / "model.onnx").write_bytes(b"")
    (export / "model.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"ONNX export.*checkpoint"):
        load_for_inspect(export)


def test_inspect_command_end_to_end(
    tiny_lm: Callable[..., RunConfig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tiny_lm("model.kind=lstm", "train.epochs=1")
    run = tmp_path / "run"
    train_lm(cfg, out=run, quiet=True)
    capsys.readouterr()
    page = tmp_path / "page.html"
    argv = ["inspect", "--checkpoint", str(run), "--text", cfg.data.source, "--out", str(page)]
    assert main([*argv, "--max-chars", "600", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("readable cells (cell state c, 600 tokens; layer #cell r):")
    assert "inside a word (a letter)" in out and f"wrote {page}" in out
    _check_self_contained(page.read_text(encoding="utf-8"))
    assert main([*argv, "--layer", "0", "--cell", "5", "--max-chars", "200"]) == 0
    assert page.read_text(encoding="utf-8").count("<pre class=text>") == 1
    capsys.readouterr()
    for extra, message in [
        (["--layer", "0"], "--layer and --cell go together"),
        (["--layer", "0", "--cell", "99"], "cell must be in [0, 23]"),
        (["--max-chars", "0"], "--max-chars must be an integer in [1, inf)"),
    ]:
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
