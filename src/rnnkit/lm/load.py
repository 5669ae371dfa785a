"""Trained language models: `load` (a `LoadedLM`) and `info`.

    lm = rnnkit.load("runs/demo")            # best.pt of a run folder, or a .pt file
    rnnkit.generate(lm, "The ", length=200, temperature=0.8, seed=0)   # -> list[str]
    for tokens in rnnkit.stream(lm, "The ", seed=0): ...               # one list per step

`generate` and `stream` live in `rnnkit.lm.generation` (also `lm.generate` / `lm.stream`: a
`LoadedLM` is a `rnnkit.decode.LanguageModel`, as the runtime's `OnnxLM` is); each call
takes its own `seed` or `torch.Generator`, never the global RNG.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rnnkit.checkpoint import load_checkpoint, resolve_checkpoint_path
from rnnkit.config import RunConfig
from rnnkit.config.fields import Level
from rnnkit.decode.options import SamplingOptions
from rnnkit.errors import CheckpointError
from rnnkit.lm import generation
from rnnkit.lm.model import RNNLM
from rnnkit.storage import storage_errors
from rnnkit.text.tokenize import WordTokenizer, tokens_spec
from rnnkit.text.vocab import Vocab
from rnnkit.training.environment import count_parameters, resolve_device

if TYPE_CHECKING:
    from rnnkit.decode.options import SamplingKwargs

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack


@dataclass
class LoadedLM:
    """A trained language model ready to sample: `model` (eval mode), `vocab`, `config`,
    `metrics` (the checkpoint's row), `best` (best validation row), `corpus` (name, sha1...)."""

    model: RNNLM
    vocab: Vocab
    config: RunConfig
    metrics: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def level(self) -> str:
        """`char` or `word`: how generated tokens are joined."""
        return self.config.data.level

    @property
    def tokenizer(self) -> Level | WordTokenizer:
        """How a prefix is split: "char", or the `WordTokenizer` the model was trained with."""
        return tokens_spec(self.config.data)

    @property
    def normalize(self) -> str:
        """The training text's `data.normalize`, applied to every prefix."""
        return self.config.data.normalize

    @property
    def device(self) -> torch.device:
        """Where the model's weights live."""
        return next(self.model.parameters()).device

    @property
    def parameters(self) -> int:
        """The number of trainable weights (tied weights counted once)."""
        return count_parameters(self.model)

    @property
    def history(self) -> list[dict[str, Any]]:
        """The rows of the run folder's metrics.jsonl, read now (empty without one)."""
        return [] if self.path is None else read_history(self.path.parent)

    def generate(
        self,
        prefix: str = "",
        length: int = 100,
        *,
        generator: torch.Generator | None = None,
        options: SamplingOptions | None = None,
        **kwargs: Unpack[SamplingKwargs],
    ) -> list[str]:
        """`rnnkit.generate` on this model: one string (prefix included) per sample."""
        return generation.generate(
            self, prefix, length, generator=generator, options=options, **kwargs
        )

    def stream(
        self,
        prefix: str = "",
        length: int = 100,
        *,
        generator: torch.Generator | None = None,
        options: SamplingOptions | None = None,
        **kwargs: Unpack[SamplingKwargs],
    ) -> Iterator[list[str]]:
        """`rnnkit.stream` on this model: the new tokens of every sample, step by step."""
        return generation.stream(
            self, prefix, length, generator=generator, options=options, **kwargs
        )


def load(path: str | Path, device: str = "cpu") -> LoadedLM:
    """Load a language model from a run folder (its `best.pt`, else `last.pt`) or a file."""
    ckpt = load_checkpoint(path, prefer="best")
    if ckpt.get("task") == "forecast":
        raise CheckpointError(
            f"{path} holds a forecasting checkpoint; load it with rnnkit.Forecaster.load(path) "
            "(or forecast from it with the forecast command)"
        )
    if ckpt.get("task") != "lm":
        raise CheckpointError(
            f"{path} holds a {ckpt.get('task')!r} checkpoint; language-model commands need "
            "one written by `rnnkit train`"
        )
    config = RunConfig.from_dict(ckpt["config"])
    vocab = Vocab.from_dict(ckpt["vocab"])
    model = RNNLM.from_config(config.model, len(vocab))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: weights do not fit the saved architecture ({exc})"
        ) from None
    model.to(resolve_device(device)).eval()
    return LoadedLM(
        model=model,
        vocab=vocab,
        config=config,
        metrics=ckpt.get("metrics", {}),
        best=ckpt.get("best_metrics", {}),
        corpus=ckpt.get("corpus", {}),
        path=resolve_checkpoint_path(path),
    )


def read_history(run_folder: Path) -> list[dict[str, Any]]:
    """The rows of `run_folder/metrics.jsonl` (empty without one; unreadable lines skipped)."""
    path = run_folder / "metrics.jsonl"
    if not path.is_file():
        return []
    with storage_errors(path, "read"):
        text = path.read_text(encoding="utf-8", errors="replace")
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
        if isinstance(row, dict):
            rows.append(row)
    return rows


def info(path: str | Path) -> dict[str, Any]:
    """What a checkpoint holds, as a flat dict of readable facts."""
    ckpt = load_checkpoint(path, prefer="best")
    config = ckpt.get("config", {})
    facts: dict[str, Any] = {
        "file": str(resolve_checkpoint_path(path)),
        "format_version": ckpt["format_version"],
        "task": ckpt.get("task"),
        "step": ckpt.get("step"),
        # the epoch the log and the samples name: a cut-short epoch counts as one
        "epoch": (ckpt.get("metrics") or {}).get("epoch", ckpt.get("epoch")),
    }
    model_cfg = config.get("model", {})
    facts["architecture"] = (
        f"{model_cfg.get('kind')} {model_cfg.get('num_layers')}x{model_cfg.get('hidden_size')} "
        f"({model_cfg.get('impl')}, input {model_cfg.get('input_mode')}, "
        f"dropout {model_cfg.get('dropout')}, tied {model_cfg.get('tie_weights')})"
    )
    facts["parameters"] = sum(t.numel() for t in ckpt["model"].values())
    if ckpt.get("task") == "lm":
        lm = load(path)
        facts["parameters"] = count_parameters(lm.model)
        facts["vocab_size"] = len(lm.vocab)
        corpus = ckpt.get("corpus", {})
        facts["corpus"] = corpus.get("name")
        facts["corpus_sha1"] = corpus.get("sha1")
        facts["level"] = corpus.get("level")
        facts["normalize"] = corpus.get("normalize")
        m = lm.config.model
        facts["output"] = (
            f"adaptive softmax, cutoffs {m.cutoffs}" if m.output == "adaptive" else m.output
        )
        if lm.level == "word":
            d = lm.config.data
            facts["word_regex"] = d.word_regex
            facts["newlines"] = d.newlines
            facts["lowercase"] = d.lowercase
    best = ckpt.get("best_metrics") or {}
    for key in ("val_ppl", "val_bpc", "val_unk", "test_unk", "train_ppl", "epoch"):
        if key in best:
            facts[f"best_{key}"] = best[key]
    return facts
