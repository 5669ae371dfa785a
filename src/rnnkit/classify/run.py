"""`run_classify`: train a classifier (N seeds), score it and the references on the test
part, and write the run folder; `predict_with`: label new data with a saved classifier.

    <run>/config.json      the settings as resolved (recipe choices, recipe_note) and the data
                           (source, how the test part came about, the validation split, sizes)
    <run>/metrics.jsonl    one row per epoch and seed (`seed`, `epoch`, `train_loss`,
                           `val_loss`, `val_accuracy`, `lr`, `elapsed_s`, ...)
    <run>/metrics.json     `test.accuracy` / `macro_f1` / `loss` (median over seeds),
                           `test.seeds` (per seed), `test.per_class.<label>.precision` /
                           `recall`, `references.<name>.*`, `references_skipped`, ...
    <run>/best.pt, last.pt the kept seed's best and last parameters, the input encoder
                           (vocabulary or channel statistics, label names) and the settings
    <run>/predictions.csv  id, true label, predicted label, one probability per class
    <run>/confusion.png    the kept seed's confusion matrix on the test part
    <run>/curves.png       loss and validation accuracy per epoch

The kept seed is the one with the best validation score (accuracy, then loss): the test
part only ever scores. Every file goes through `write_atomic`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.checkpoint import load_checkpoint
from rnnkit.classify.data import Sequences, Split, load_split, relabel, stratified_split
from rnnkit.classify.encoding import InputEncoder
from rnnkit.classify.model import SequenceClassifierNet
from rnnkit.classify.recipe import DataStats, apply_recipe
from rnnkit.classify.references import reference_results
from rnnkit.classify.settings import ClassifySettings
from rnnkit.classify.train import FitResult, Part, class_weights, evaluate, fit
from rnnkit.errors import CheckpointError, DataError
from rnnkit.metrics import accuracy, confusion_matrix, macro_f1, per_class_scores
from rnnkit.storage import write_atomic
from rnnkit.training.distributed import DistContext
from rnnkit.training.environment import (
    Interrupt,
    global_rng_kept,
    resolve_device,
    seed_everything,
    set_threads,
    threads_kept,
)
from rnnkit.training.run_folder import RunFolder

TASK = "classify"


@dataclass
class Prepared:
    """The parts a run trains, selects and tests on, encoded, and the encoder."""

    split: Split
    fit_part: Sequences
    val_part: Sequences
    encoder: InputEncoder
    arrays: dict[str, list[np.ndarray]]  # "fit", "val", "test", "train" (fit + val)


def prepare(source: str, s: ClassifySettings) -> Prepared:
    """Read `source`, carve the stratified validation part from the training part (seed
    `s.seed`), fit the encoder on the training part and encode every part."""
    split = load_split(source, s.test, s.label_col, s.level, s.seed)
    fit_idx, val_idx = stratified_split(split.train.y, s.val_fraction, s.seed)
    if len(val_idx) == 0 or len(fit_idx) == 0:
        raise DataError(
            f"{split.name}: {len(split.train)} training sequences leave no validation part; "
            "give more sequences or raise val_fraction"
        )
    encoder = InputEncoder.fit(split.train, s.level)
    fit_part, val_part = split.train.subset(fit_idx), split.train.subset(val_idx)
    arrays = {
        "fit": encoder.transform(fit_part),
        "val": encoder.transform(val_part),
        "test": encoder.transform(split.test),
        "train": encoder.transform(split.train),
    }
    return Prepared(split, fit_part, val_part, encoder, arrays)


def _run_dir(out: str | None, name: str) -> Path:
    if out:
        return Path(out)
    return Path("runs") / f"classify-{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _config_json(s: ClassifySettings, source: str, p: Prepared) -> str:
    data = {
        "source": source,
        "name": p.split.name,
        "kind": p.split.train.kind,
        "test_part": p.split.how,
        "validation": f"stratified {s.val_fraction:g} of the training part, seed {s.seed}",
        "classes": p.encoder.label_names,
        "sizes": {"fit": len(p.fit_part), "val": len(p.val_part), "test": len(p.split.test)},
    }
    return json.dumps({"task": TASK, "settings": s.to_dict(), "data": data}, indent=2)


@dataclass
class SeedRun:
    """One seed's fit, its network and its test probabilities `(N_test, K)`."""

    seed: int
    net: SequenceClassifierNet
    result: FitResult
    probs: np.ndarray
    test_loss: float


def build_net(s: ClassifySettings, encoder: InputEncoder) -> SequenceClassifierNet:
    """A fresh network for the settings and the encoder's inputs and classes."""
    return SequenceClassifierNet(
        encoder.input_size,
        len(encoder.label_names),
        tokens=encoder.kind == "text",
        kind=s.kind,
        hidden_size=s.hidden_size,
        num_layers=s.num_layers,
        bidirectional=s.bidirectional,
        pooling=s.pooling,
        dropout=s.dropout,
        embed_size=s.embed_size,
        patch=s.patch if encoder.kind == "numeric" else 1,
    )


def _fit_seed(
    s: ClassifySettings, p: Prepared, seed: int, device: torch.device, interrupt: Interrupt
) -> SeedRun:
    """Seed, build, fit on the fit part (select on the validation part), then score the
    best parameters on the test part."""
    s = dataclasses.replace(s, seed=seed)
    seed_everything(seed)
    net = build_net(s, p.encoder).to(device)
    weights = class_weights(p.split.train.y, len(p.encoder.label_names), s.class_weights)
    weight = None if weights is None else torch.as_tensor(weights, device=device)
    fit_part = Part.of(p.arrays["fit"], p.fit_part.y, device)
    val_part = Part.of(p.arrays["val"], p.val_part.y, device)
    result = fit(net, fit_part, val_part, s, weight, stop=lambda: interrupt.hit)
    net.load_state_dict(result.best_state)
    probs, test_loss = evaluate(net, Part.of(p.arrays["test"], p.split.test.y, device))
    return SeedRun(seed, net, result, probs.cpu().numpy(), test_loss)


def _best_val(run: SeedRun) -> tuple[float, float]:
    row = run.result.history[run.result.best_epoch - 1]
    return (row["val_accuracy"], -row["val_loss"])


def _seed_scores(run: SeedRun, y: np.ndarray, k: int) -> dict[str, float]:
    pred = run.probs.argmax(-1)
    return {
        "seed": run.seed,
        "accuracy": accuracy(y, pred),
        "macro_f1": macro_f1(y, pred, k),
        "loss": run.test_loss,
        "epochs": len(run.result.history),
        "best_epoch": run.result.best_epoch,
        "fit_s": round(run.result.elapsed_s, 2),
    }


def _test_metrics(runs: list[SeedRun], kept: SeedRun, p: Prepared) -> dict[str, Any]:
    """`test`: medians over seeds, per-seed values, the kept seed's per-class scores."""
    y, names = p.split.test.y, p.encoder.label_names
    seeds = [_seed_scores(r, y, len(names)) for r in runs]
    cm = confusion_matrix(y, kept.probs.argmax(-1), len(names))
    precision, recall, _ = per_class_scores(cm)
    return {
        **{k: float(np.median([sd[k] for sd in seeds])) for k in ("accuracy", "macro_f1", "loss")},
        "seeds": seeds,
        "per_class": {
            n: {"precision": float(precision[i]), "recall": float(recall[i])}
            for i, n in enumerate(names)
        },
        "confusion": cm.tolist(),
    }


def _references(s: ClassifySettings, p: Prepared, echo: Callable[[str], None]) -> dict[str, Any]:
    """Fit and score the references (unless `references = none`)."""
    if s.references == "none":
        return {"references": {}, "references_skipped": {"all": "references = none"}}
    skipped: dict[str, str] = {}
    numeric = p.split.train.kind == "numeric"
    results = reference_results(
        p.split.train,
        p.split.test,
        p.arrays["train"] if numeric else None,
        p.arrays["test"] if numeric else None,
        skipped,
    )
    k = len(p.encoder.label_names)
    scores = {n: r.scores(p.split.test.y, k) for n, r in results.items()}
    parts = [f"{n} {m['accuracy']:.4f} (fit {m['fit_s']:.1f} s)" for n, m in scores.items()]
    echo("references: " + " | ".join(parts + [f"{n} skipped: {w}" for n, w in skipped.items()]))
    return {"references": scores, "references_skipped": skipped}


def _checkpoint(run: SeedRun, s: ClassifySettings, p: Prepared, best: bool) -> dict[str, Any]:
    """A checkpoint dict: plain builtins and tensors (loads with weights_only=True)."""
    r = run.result
    return {
        "task": TASK,
        "config": dataclasses.replace(s, seed=run.seed).to_dict(),
        "model_spec": run.net.spec(),
        "model": r.best_state if best else r.last_state,
        "optimizer": {} if best else r.optimizer,
        "encoder": p.encoder.to_dict(),
        "epoch": r.best_epoch if best else len(r.history),
        "step": r.steps,
        "metrics": r.history[r.best_epoch - 1] if best else r.history[-1],
    }


def predictions_csv(
    ids: list[str], y: np.ndarray | None, probs: np.ndarray, names: list[str]
) -> str:
    """`id`, `label` (the true one, when known), `predicted`, then `p_<class>` per class."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(
        ["id", *(["label"] if y is not None else []), "predicted", *[f"p_{n}" for n in names]]
    )
    for i, row in enumerate(probs):
        true = [names[y[i]] if y[i] >= 0 else ""] if y is not None else []
        writer.writerow([ids[i], *true, names[int(row.argmax())], *[f"{v:.6f}" for v in row]])
    return buffer.getvalue()


def _summary(
    name: str, test: dict[str, Any], refs: dict[str, Any], runs: list[SeedRun], run_dir: Path
) -> str:
    """The last printed line: the model's accuracy beside the references', why it stopped."""
    n = len(runs)
    reasons = sorted({r.result.stop_reason for r in runs})
    ref_text = "".join(f" | {k} {m['accuracy']:.4f}" for k, m in refs["references"].items())
    return (
        f"classify {name} ({n} seed{'s' if n > 1 else ''}): test accuracy {test['accuracy']:.4f}"
        f"{' (median)' if n > 1 else ''}, macro F1 {test['macro_f1']:.4f}{ref_text}"
        f" | stopped: {'; '.join(reasons)} | {run_dir}"
    )


def _write_run(
    folder: RunFolder,
    runs: list[SeedRun],
    s: ClassifySettings,
    p: Prepared,
    results: dict[str, Any],
) -> SeedRun:
    """Write the kept seed's checkpoints, `metrics.json`, `predictions.csv` and the figures."""
    from rnnkit.plots import plot_classify_curves, plot_confusion

    kept = max(runs, key=_best_val)
    folder.save_checkpoint("last.pt", _checkpoint(kept, s, p, best=False))
    folder.save_checkpoint("best.pt", _checkpoint(kept, s, p, best=True))
    write_atomic(folder.path / "metrics.json", json.dumps(results, indent=2) + "\n")
    names = p.encoder.label_names
    csv_text = predictions_csv(p.split.test.ids, p.split.test.y, kept.probs, names)
    write_atomic(folder.path / "predictions.csv", csv_text)
    cm = np.array(results["test"]["confusion"])
    acc = accuracy(p.split.test.y, kept.probs.argmax(-1))
    title = f"{p.split.name}: test accuracy {acc:.4f} (seed {kept.seed})"
    plot_confusion(cm, names, folder.path / "confusion.png", title)
    plot_classify_curves(folder.read_metrics(), folder.path / "curves.png", p.split.name)
    return kept


def run_classify(
    source: str,
    settings: ClassifySettings | None = None,
    *,
    out: str | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and score a sequence classifier on `source`; write the run folder.

    Args:
        source: a `.ts` file (or a folder with one `*_TRAIN.ts`), a CSV/TSV table or a
            named dataset (`digits`, `first-names`); see `rnnkit.classify.data`.
        settings: the run's settings (default `ClassifySettings()`); copied, never changed.
            Each of `seeds` seeds (`seed`, `seed + 1`, ...) gets a full `time_budget` on the
            same split.
        out: the run folder (default `runs/classify-<name>-<timestamp>`).
        echo: where the recipe line, a line per seed, the references' line and the summary go.

    Returns:
        The `metrics.json` content plus `run_dir` and `summary` (the last printed line).
    """
    s = (settings or ClassifySettings()).check()
    p = prepare(source, s)
    s = apply_recipe(s, DataStats.of(p.split.train, p.encoder.input_size)).check()
    run_dir = _run_dir(out, p.split.name)
    folder = RunFolder(run_dir, DistContext(), echo)
    folder.write_config(_config_json(s, source, p))
    echo(f"run folder: {run_dir}")
    if s.recipe_note:
        echo(s.recipe_note)
    device = resolve_device(s.device)
    runs: list[SeedRun] = []
    rows: list[dict[str, Any]] = []
    with Interrupt() as interrupt, threads_kept(), global_rng_kept(device):
        set_threads(s.threads)
        for i in range(s.seeds):
            run = _fit_seed(s, p, s.seed + i, device, interrupt)
            runs.append(run)
            rows += [{"seed": run.seed, **row} for row in run.result.history]
            folder.keep_metrics(rows)
            sc = _seed_scores(run, p.split.test.y, len(p.encoder.label_names))
            echo(
                f"seed {run.seed}: test accuracy {sc['accuracy']:.4f}, "
                f"macro F1 {sc['macro_f1']:.4f} | {sc['epochs']} epochs in {sc['fit_s']:.1f} s, "
                f"best {sc['best_epoch']}"
                f" | stopped: {run.result.stop_reason}"
            )
            if interrupt.hit:
                break
    refs = _references(s, p, echo)
    test = _test_metrics(runs, max(runs, key=_best_val), p)
    results = {"source": source, "name": p.split.name, "seeds": len(runs), "test": test, **refs}
    results["stop_reasons"] = [r.result.stop_reason for r in runs]
    _write_run(folder, runs, s, p, results)
    summary = _summary(p.split.name, test, refs, runs, run_dir)
    echo(summary)
    return {**results, "run_dir": str(run_dir), "summary": summary}


def load_classifier(
    checkpoint: str | Path,
) -> tuple[SequenceClassifierNet, InputEncoder, dict[str, Any]]:
    """The network (eval mode, CPU), its input encoder and the checkpoint dict."""
    ckpt = load_checkpoint(checkpoint)
    if ckpt.get("task") != TASK:
        raise CheckpointError(
            f"{checkpoint} is a {ckpt.get('task')!r} checkpoint, not a classifier; pass a run "
            "folder written by rnnkit classify"
        )
    net = SequenceClassifierNet(**ckpt["model_spec"])
    net.load_state_dict(ckpt["model"])
    return net.eval(), InputEncoder.from_dict(ckpt["encoder"]), ckpt


def _read_new(data: str, encoder: InputEncoder, label_col: str) -> Sequences:
    """New data to label: a `.ts` file or a table, labels optional, relabelled to the
    model's classes (a label it does not know counts as wrong)."""
    path = Path(data).expanduser()
    if not path.is_file():
        raise DataError(f"{data} is not a file; give a .ts, .csv or .tsv file to label")
    if path.suffix.lower() == ".ts":
        from rnnkit.classify.tsfile import read_ts

        seqs = read_ts(path)
    else:
        from rnnkit.classify.tables import read_table

        seqs = read_table(path, label_col, encoder.level, need_label=False)
    return relabel(seqs, encoder.label_names)


def predict_with(
    checkpoint: str | Path,
    data: str,
    *,
    out: str | None = None,
    label_col: str = "",
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Label the sequences of `data` with the classifier saved in `checkpoint` (a run
    folder or `.pt`): writes `out` (default `<run>/predict-<data stem>.csv`: id, label
    when the data has one, predicted, one probability per class) and prints one line with
    the accuracy when the data carries labels."""
    net, encoder, _ = load_classifier(checkpoint)
    seqs = _read_new(data, encoder, label_col)
    arrays = encoder.transform(seqs)
    y = seqs.y if len(seqs.y) and (seqs.y >= 0).any() else None
    probs, _ = evaluate(net, Part.of(arrays, np.maximum(seqs.y, 0), torch.device("cpu")))
    probs_np = probs.numpy()
    base = Path(checkpoint) if Path(checkpoint).is_dir() else Path(checkpoint).parent
    target = Path(out) if out else base / f"predict-{Path(data).stem}.csv"
    write_atomic(target, predictions_csv(seqs.ids, y, probs_np, encoder.label_names))
    result: dict[str, Any] = {"n": len(seqs), "out": str(target)}
    line = f"classify --checkpoint {checkpoint}: {len(seqs)} sequences labelled -> {target}"
    if y is not None:
        result["accuracy"] = accuracy(seqs.y, probs_np.argmax(-1))
        line += f" | accuracy {result['accuracy']:.4f}"
    echo(line)
    result["summary"] = line
    return result
