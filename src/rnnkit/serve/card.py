"""The model card: the facts of a loaded model and its run folder (or its export's
model.json), as the page shows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rnnkit.serve.backend import Backend
from rnnkit.serve.schemas import (
    MAX_BEAM,
    MAX_LENGTH,
    MAX_PREFIX_CHARS,
    MAX_SAMPLES,
    MAX_TEMPERATURE,
    MAX_TOP_K,
    ModelCard,
)
from rnnkit.storage import storage_errors

CURVE_KEYS = ("epoch", "step", "train_loss", "train_ppl", "val_loss", "val_ppl", "val_bpc")
BEST_KEYS = ("epoch", "step", "train_ppl", "val_ppl", "val_bpc")


def read_curves(
    run_dir: Path, fallback: dict[str, Any], history: list[dict[str, Any]] | None = None
) -> list[dict[str, float]]:
    """The numeric columns of `history` (an export's rows) or else `metrics.jsonl` (or the
    model's own row without either)."""
    rows: list[dict[str, Any]] = []
    path = run_dir / "metrics.jsonl"
    if history:
        rows = history
    elif history is None and path.is_file():
        with storage_errors(path, "read"):
            text = path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by an interrupted run
    elif fallback:
        rows = [fallback]
    return [
        {k: float(r[k]) for k in CURVE_KEYS if isinstance(r.get(k), (int, float))}
        for r in rows
        if isinstance(r, dict)
    ]


def model_card(backend: Backend) -> ModelCard:
    """The facts the page shows, read from the loaded model and its run folder (a checkpoint)
    or its model.json (an export)."""
    lm, m = backend.lm, backend.config.model
    path = backend.path
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
    g = backend.config.generate
    return ModelCard(
        run=path.parent.name,
        checkpoint=path.name,
        corpus={k: v for k, v in lm.corpus.items() if k in ("name", "sha1", "num_tokens")},
        level=backend.level,
        normalize=backend.normalize,
        vocab_size=len(backend.vocab),
        architecture=arch,
        summary=f"{m.kind.upper()}, {layers} × {m.hidden_size} hidden, {inputs}",
        parameters=backend.parameters,
        best={k: lm.best[k] for k in BEST_KEYS if k in lm.best},
        curves=read_curves(path.parent, lm.metrics, backend.history),
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
