"""The torch-free ONNX runtime (`rnnkit.runtime.onnx_lm`) against the torch generation path.

Two tiny models are trained and exported once per module (a d2l-normalised character GRU
and a two-layer word LSTM): greedy and beam search must equal `rnnkit.generate`, bad options
must read the same, seeded samples must repeat, and generation (library and CLI) must run in
an interpreter where importing torch fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("onnxruntime", reason="the ONNX runtime tests need onnxruntime")
pytest.importorskip("onnxscript", reason="exporting the test models needs onnxscript")
pytest.importorskip("rnnkit.lm.export", reason="the test models are written by rnnkit.lm.export")

import numpy as np

import rnnkit
from conftest import BLOCK_TORCH, tiny_lm_config
from rnnkit.decode.backend import choose_backend, is_export
from rnnkit.decode.options import SamplingOptions
from rnnkit.decode.prefix import join_steps
from rnnkit.errors import NumericalError, RnnkitError
from rnnkit.lm.load import LoadedLM
from rnnkit.runtime.onnx_lm import OnnxLM, generate, load_onnx, stream

MODELS = {
    "gru-char": ("model.kind=gru", "data.normalize=d2l"),
    "lstm-word": ("model.kind=lstm", "model.num_layers=2", "data.level=word"),
}
PREFIXES = {"gru-char": ["the ", "", "The  Time-"], "lstm-word": ["the time", "", "his "]}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """name -> (run folder with best.pt, export folder), trained and exported once."""
    from rnnkit.lm.export import export_onnx
    from rnnkit.lm.train import train_lm

    root = tmp_path_factory.mktemp("runtime")
    folders = {}
    for name, settings in MODELS.items():
        cfg = tiny_lm_config(root / name, *settings, "train.epochs=1")
        run, export = root / name / "run", root / name / "export"
        train_lm(cfg, out=run, quiet=True, echo=lambda _: None)
        export_onnx(run, export)
        folders[name] = (run, export)
    return folders


@pytest.fixture(scope="module")
def pairs(models: dict[str, tuple[Path, Path]]) -> dict[str, tuple[LoadedLM, OnnxLM]]:
    return {name: (rnnkit.load(run), load_onnx(export)) for name, (run, export) in models.items()}


@pytest.mark.parametrize("name", MODELS)
def test_greedy_and_beam_equal_the_torch_path(pairs: dict, name: str) -> None:
    lm, onnx = pairs[name]
    assert onnx.level == lm.level and onnx.vocab == lm.vocab
    for prefix in PREFIXES[name]:
        greedy = rnnkit.generate(lm, prefix, 30, temperature=0)
        assert generate(onnx, prefix, 30, temperature=0) == greedy
        steps = stream(onnx, options=SamplingOptions(prefix, 30, temperature=0))
        assert join_steps(_norm(lm, prefix), steps, lm.level, 1) == greedy
        beams = rnnkit.generate(lm, prefix, 8, beam=4, num_samples=3)
        assert generate(onnx, prefix, 8, beam=4, num_samples=3) == beams


def _norm(lm: LoadedLM, prefix: str) -> str:
    from rnnkit.decode.prefix import normalize_prefix

    return normalize_prefix(prefix, lm.config.data.normalize)


BAD_CALLS = [
    {"length": 0},
    {"temperature": -1.0},
    {"top_k": -2},
    {"top_p": 0.0},
    {"num_samples": 3, "beam": 2},
    {"seed": "x"},
    {"options": SamplingOptions("the", 5), "length": 7},
    {"options": "greedy"},
]


def _error(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(RnnkitError) as info:
        list(call(*args, **kwargs))
    return str(info.value)


@pytest.mark.parametrize("kwargs", BAD_CALLS)
def test_bad_options_read_as_in_the_torch_path(pairs: dict, kwargs: dict[str, Any]) -> None:
    lm, onnx = pairs["gru-char"]
    assert _error(generate, onnx, "the", **kwargs) == _error(rnnkit.generate, lm, "the", **kwargs)
    if "beam" not in kwargs:
        assert _error(stream, onnx, "the", **kwargs) == _error(rnnkit.stream, lm, "the", **kwargs)


def test_stream_refuses_beam_as_the_torch_path(pairs: dict) -> None:
    lm, onnx = pairs["gru-char"]
    options = SamplingOptions("the", 5, beam=2)
    assert _error(stream, onnx, options=options) == _error(rnnkit.stream, lm, options=options)


def test_seeded_sampling_repeats_and_stream_agrees(pairs: dict) -> None:
    _, onnx = pairs["gru-char"]
    kwargs: dict[str, Any] = {"temperature": 0.8, "top_k": 5, "top_p": 0.9, "num_samples": 3}
    first = generate(onnx, "the ", 40, seed=3, **kwargs)
    assert len(first) == 3 and all(text.startswith("the ") for text in first)
    assert generate(onnx, "the ", 40, seed=3, **kwargs) == first
    assert generate(onnx, "the ", 40, seed=4, **kwargs) != first
    steps = stream(onnx, "the ", 40, seed=3, **kwargs)
    assert join_steps("the ", steps, "char", 3) == first
    rng = np.random.default_rng(3)
    assert generate(onnx, "the ", 40, rng=rng, **kwargs) == first
    with pytest.raises(RnnkitError, match="either seed or rng"):
        generate(onnx, "the", 5, seed=1, rng=rng)


def test_empty_prefix_draws_counted_tokens_and_unknown_tokens_warn(pairs: dict) -> None:
    lm, onnx = pairs["lstm-word"]
    texts = generate(onnx, "", 1, num_samples=50, seed=0)
    counted = {t for t, c in zip(lm.vocab.idx_to_token, lm.vocab.counts, strict=True) if c > 0}
    assert set(texts) <= counted
    with pytest.warns(UserWarning) as torch_warning:
        rnnkit.generate(lm, "the zyzzyva", 3, temperature=0)
    with pytest.warns(UserWarning) as onnx_warning:
        generate(onnx, "the zyzzyva", 3, temperature=0)
    assert str(onnx_warning[0].message) == str(torch_warning[0].message)
    assert "'zyzzyva'" in str(onnx_warning[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate(onnx, "the time", 3, temperature=0)


class _Overflowing:
    """An onnxruntime session whose logits are NaN."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def run(self, names: list[str], feed: dict[str, Any]) -> list[Any]:
        out = self.session.run(names, feed)
        return [np.full_like(out[0], np.nan), *out[1:]]


@pytest.mark.parametrize("kwargs", [{"temperature": 0}, {"seed": 0}, {"beam": 2}])
def test_non_finite_logits_name_the_model_file(pairs: dict, kwargs: dict[str, Any]) -> None:
    _, onnx = pairs["gru-char"]
    broken = replace(onnx, session=_Overflowing(onnx.session))
    with pytest.raises(NumericalError, match=r"model .*model\.onnx: .*not finite"):
        generate(broken, "the ", 5, **kwargs)
    if "beam" not in kwargs:
        with pytest.raises(NumericalError, match=r"model\.onnx"):
            list(stream(broken, "the ", 5, **kwargs))


def test_loading_and_backend_choice(models: dict, tmp_path: Path) -> None:
    run, export = models["gru-char"]
    onnx = load_onnx(export / "model.onnx")
    assert onnx.path == export / "model.onnx" and onnx.config.data.normalize == "d2l"
    assert onnx.best and is_export(export) and not is_export(run)
    assert choose_backend(export) == "onnx" and choose_backend(export / "model.onnx") == "onnx"
    assert choose_backend(run) == "torch" and choose_backend(run / "best.pt") == "torch"
    both = tmp_path / "both"
    both.mkdir()
    for file in ("model.onnx", "model.json"):
        (both / file).write_bytes((export / file).read_bytes())
    (both / "best.pt").write_bytes(b"")
    assert choose_backend(both) == "torch"  # torch is installed here
    assert choose_backend(both, "onnx") == "onnx"
    with pytest.raises(RnnkitError, match=r"vocab\.json is missing"):
        load_onnx(both)
    with pytest.raises(RnnkitError, match="does not exist"):
        load_onnx(tmp_path / "nothing.onnx")


def _rnnkit(*args: str, code: str = "") -> str:
    """stdout of `rnnkit ARGS` in a fresh interpreter that first runs `code`."""
    script = f"{code}\nimport sys\nfrom rnnkit.cli import main\nsys.exit(main({list(args)!r}))"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_generates_from_an_export_as_from_the_checkpoint(models: dict) -> None:
    run, export = models["gru-char"]
    flags = ("--prefix", "The Time", "--length", "40", "--greedy")
    from_pt = _rnnkit("generate", "--checkpoint", str(run), *flags)
    assert from_pt.startswith("the time") and len(from_pt) > 40
    without_torch = _rnnkit("generate", "--checkpoint", str(export), *flags, code=BLOCK_TORCH)
    assert without_torch.splitlines() == [*from_pt.splitlines(), "TORCH False False"]
    beams = ("--prefix", "the ", "--length", "6", "--beam", "3", "--num-samples", "2")
    onnx_file = str(export / "model.onnx")
    assert _rnnkit("generate", "--checkpoint", onnx_file, *beams) == _rnnkit(
        "generate", "--checkpoint", str(run), *beams
    )


def test_runtime_generates_with_torch_blocked(models: dict, pairs: dict) -> None:
    _, export = models["lstm-word"]
    code = (
        BLOCK_TORCH
        + "from rnnkit.runtime.onnx_lm import generate, load_onnx\n"
        + f"lm = load_onnx({str(export)!r})\n"
        + "print(repr(generate(lm, 'the time', 12, temperature=0)))\n"
        + "print(repr(generate(lm, 'the', 5, num_samples=2, seed=1)))\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    greedy, samples, torch_line = done.stdout.splitlines()
    assert eval(greedy) == rnnkit.generate(pairs["lstm-word"][0], "the time", 12, temperature=0)
    assert len(eval(samples)) == 2
    assert torch_line == "TORCH False False"


@pytest.mark.parametrize(("key", "value"), [("hidden_size", 32), ("num_layers", 2)])
def test_a_model_json_that_disagrees_with_the_graph_is_one_line(
    tmp_path: Path, capsys: Any, key: str, value: int
) -> None:
    """An export whose model.json was edited (or mixed up with another export's) is refused
    at load time, naming the file and the fix, in the runtime, the CLI and serving alike."""
    import json
    import shutil

    from rnnkit.cli import main
    from rnnkit.decode.backend import load_backend
    from rnnkit.errors import CheckpointError
    from rnnkit.runtime.onnx_lm import load_onnx

    export = tmp_path / "export"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "export-65d8068", export)
    meta = json.loads((export / "model.json").read_text(encoding="utf-8"))
    meta[key] = value
    (export / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"model\.json does not match its model\.onnx"):
        load_onnx(export)
    with pytest.raises(CheckpointError, match="export the run again"):
        load_backend(export, "onnx", device="cpu", threads=1)
    assert main(["generate", "--checkpoint", str(export), "--length", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error: ") and "\n" not in err and "model.json" in err
