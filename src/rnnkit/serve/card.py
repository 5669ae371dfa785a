"""The model card: the facts of a loaded model and its run folder (or its export's
model.json), as the page shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.decode.protocol import LanguageModel
from rnnkit.serve.schemas import (
    MAX_BEAM,
    MAX_LENGTH,
    MAX_PREFIX_CHARS,
    MAX_SAMPLES,
    MAX_TEMPERATURE,
    MAX_TOP_K,
    ModelCard,
)

CURVE_KEYS = ("epoch", "step", "train_loss", "train_ppl", "val_loss", "val_ppl", "val_bpc")
BEST_KEYS = ("epoch", "step", "train_ppl", "val_ppl", "val_bpc")


def read_curves(history: list[dict[str, Any]], fallback: dict[str, Any]) -> list[dict[str, float]]:
    """The numeric columns of the training rows `history` (or of the model's own row
    `fallback` without any)."""
    rows = history or ([fallback] if fallback else [])
    return [
        {k: float(r[k]) for k in CURVE_KEYS if isinstance(r.get(k), (int, float))}
        for r in rows
        if isinstance(r, dict)
    ]


def model_card(lm: LanguageModel) -> ModelCard:
    """The facts the page shows, read from the loaded model and its run folder (a checkpoint)
    or its model.json (an export)."""
    m = lm.config.model
    path = lm.path or Path("checkpoint.pt")
    arch = {
        "kind": m.kind,
        "impl": m.impl,
        "num_layers": m.num_layers,
        "hidden_size": m.hidden_size,
        "embedding_dim": m.embedding_dim or m.hidden_size,
        "input_mode": m.input_mode,
        "dropout": m.dropout,
        "tie_weights": m.tie_weights,
    }
    layers = f"{m.num_layers} layer{'s' if m.num_layers > 1 else ''}"
    inputs = "one-hot" if m.input_mode == "onehot" else f"embedding {arch['embedding_dim']}"
    g = lm.config.generate
    return ModelCard(
        run=path.parent.name,
        checkpoint=path.name,
        corpus={k: v for k, v in lm.corpus.items() if k in ("name", "sha1", "num_tokens")},
        level=lm.level,
        normalize=lm.normalize,
        vocab_size=len(lm.vocab),
        architecture=arch,
        summary=f"{m.kind.upper()}, {layers} × {m.hidden_size} hidden, {inputs}",
        parameters=lm.parameters,
        best={k: lm.best[k] for k in BEST_KEYS if k in lm.best},
        curves=read_curves(lm.history, lm.metrics),
        defaults={
            "prefix": g.prefixes[0] if g.prefixes else "",
            "length": min(g.length, MAX_LENGTH),
            "temperature": g.temperature,
            "top_k": g.top_k,
            "top_p": g.top_p,
        },
        limits={
            "length": MAX_LENGTH,
            "num_samples": MAX_SAMPLES,
            "prefix_chars": MAX_PREFIX_CHARS,
            "temperature": MAX_TEMPERATURE,
            "top_k": MAX_TOP_K,
            "beam": MAX_BEAM,
        },
    )
