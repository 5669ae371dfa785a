"""`run_classify`: train a classifier (N seeds), score it and the references on the test
part, and write the run folder; `predict_with`: label new data with a saved classifier.

    <run>/config.json      the config as resolved (recipe choices, recipe_note), `task`, and
                           `split`: the data (source, how the test part came about, the
                           validation split, sizes)
    <run>/metrics.jsonl    one row per epoch and seed (`seed`, `epoch`, `train_loss`,
                           `val_loss`, `val_accuracy`, `lr`, `elapsed_s`, ...)
    <run>/metrics.json     `test.accuracy` / `macro_f1` / `loss` (median over seeds),
                           `test.seeds` (per seed), `test.per_class.<label>.precision` /
                           `recall`, `references.<name>.*`, `references_skipped`, ...
    <run>/best.pt          the kept seed's best parameters, the input encoder (vocabulary
                           or channel statistics, label names) and the config
    <run>/last.pt          the last seed's last parameters, optimizer and fit state, and
                           the finished seeds' records: what `--resume` continues from
    <run>/predictions.csv  id, true label, predicted label, one probability per class
    <run>/confusion.png    the kept seed's confusion matrix on the test part
    <run>/curves.png       loss and validation accuracy per epoch

The kept seed is the one with the best validation score (accuracy, then loss): the test
part only ever scores. A split given in memory (`split=`, as `SequenceClassifier.fit`
gives) may have an empty test part: the run then fits and selects as always but scores no
test part and no references, writes no `predictions.csv` or `confusion.png`, its
`metrics.json` holds `test: null` and the kept seed's `validation` scores, and the lines
give validation accuracies. Every file goes through `write_atomic`. A Ctrl-C ends the running
seed after its step, skips the references and writes the folder; `resume` continues the
interrupted seed from `last.pt` (to its budget), then the seeds not run yet.
"""

from __future__ import annotations

import copy
import csv
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
from rnnkit.classify.data import (
    Sequences,
    Split,
    load_split,
    read_part,
    relabel,
    stratified_split,
)
from rnnkit.classify.encoding import InputEncoder
from rnnkit.classify.model import SequenceClassifierNet
from rnnkit.classify.recipe import DataStats, apply_recipe
from rnnkit.classify.references import reference_results
from rnnkit.classify.train import FitResult, Part, class_weights, evaluate, fit
from rnnkit.config.tables import ClassifyConfig, ClassifyModelConfig
from rnnkit.errors import CheckpointError, ConfigError, DataError
from rnnkit.metrics import accuracy, confusion_matrix, macro_f1, per_class_scores
from rnnkit.storage import write_atomic
from rnnkit.training.distributed import DistContext
from rnnkit.training.environment import (
    Interrupt,
    global_rng_kept,
    resolve_device,
    seed_everything,
)
from rnnkit.training.run_folder import RunFolder
from rnnkit.training.threads import tuned_threads

TASK = "classify"


@dataclass
class Prepared:
    """The parts a run trains, selects and tests on, encoded, and the encoder."""

    split: Split
    fit_part: Sequences
    val_part: Sequences
    encoder: InputEncoder
    arrays: dict[str, list[np.ndarray]]  # "fit", "val", "test", "train" (fit + val)

    @property
    def has_test(self) -> bool:
        """Whether the split has a test part to score (a split given in memory may not)."""
        return len(self.split.test) > 0


def check_limits(cfg: ClassifyConfig) -> None:
    """A run needs a limit: `train.time_budget` or `train.max_epochs` above 0."""
    if cfg.train.time_budget <= 0 and cfg.train.max_epochs <= 0:
        raise ConfigError(
            "train.time_budget and train.max_epochs are both 0; set one above 0 so the run ends"
        )


def prepare(cfg: ClassifyConfig, split: Split | None = None) -> Prepared:
    """Read `cfg.data.source` (or take `split`, already checked with `check_trainable`),
    carve the stratified validation part from the training part (seed `train.seed`), fit
    the encoder on the training part and encode every part."""
    d, seed = cfg.data, cfg.train.seed
    if split is None:
        if not d.source:
            raise ConfigError("no data to classify; give DATA (a .ts or CSV file, digits, ...)")
        split = load_split(d.source, d.test, d.label_col, d.level, seed)
    fit_idx, val_idx = stratified_split(split.train.y, d.val_fraction, seed)
    if len(val_idx) == 0 or len(fit_idx) == 0:
        raise DataError(
            f"{split.name}: {len(split.train)} training sequences leave no validation part; "
            "give more sequences or raise data.val_fraction"
        )
    encoder = InputEncoder.fit(split.train, d.level)
    fit_part, val_part = split.train.subset(fit_idx), split.train.subset(val_idx)
    arrays = {
        "fit": encoder.transform(fit_part),
        "val": encoder.transform(val_part),
        "test": encoder.transform(split.test) if len(split.test) else [],
        "train": encoder.transform(split.train),
    }
    return Prepared(split, fit_part, val_part, encoder, arrays)


def _run_dir(out: str | None, name: str) -> Path:
    if out:
        return Path(out)
    return Path("runs") / f"classify-{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _config_json(cfg: ClassifyConfig, p: Prepared) -> str:
    split = {
        "name": p.split.name,
        "kind": p.split.train.kind,
        "test_part": p.split.how,
        "validation": f"stratified {cfg.data.val_fraction:g} of the training part, "
        f"seed {cfg.train.seed}",
        "classes": p.encoder.label_names,
        "sizes": {"fit": len(p.fit_part), "val": len(p.val_part), "test": len(p.split.test)},
    }
    return json.dumps({"task": TASK, **cfg.to_dict(), "split": split}, indent=2)


@dataclass
class SeedRun:
    """One seed's fit, its network (best parameters) and its test probabilities `(N_test, K)`."""

    seed: int
    net: SequenceClassifierNet
    result: FitResult
    probs: np.ndarray
    test_loss: float


def build_net(m: ClassifyModelConfig, encoder: InputEncoder) -> SequenceClassifierNet:
    """A fresh network for the model table and the encoder's inputs and classes."""
    return SequenceClassifierNet(
        encoder.input_size,
        len(encoder.label_names),
        tokens=encoder.kind == "text",
        kind=m.kind,
        impl=m.impl,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        bidirectional=m.bidirectional,
        pooling=m.pooling,
        dropout=m.dropout,
        embed_size=m.embed_size,
        patch=m.patch if encoder.kind == "numeric" else 1,
    )


def seed_config(cfg: ClassifyConfig, seed: int) -> ClassifyConfig:
    """A copy of `cfg` whose `train.seed` is `seed` (one fit of several)."""
    out = copy.deepcopy(cfg)
    out.train.seed = seed
    return out


def _fit_seed(
    cfg: ClassifyConfig,
    p: Prepared,
    device: torch.device,
    interrupt: Interrupt,
    start: FitResult | None = None,
) -> SeedRun:
    """Seed, build, fit on the fit part (select on the validation part; continue `start`
    when given), then score the best parameters on the test part (when there is one)."""
    seed_everything(cfg.train.seed)
    net = build_net(cfg.model, p.encoder).to(device)
    mode = cfg.train.class_weights
    weights = class_weights(p.split.train.y, len(p.encoder.label_names), mode)
    weight = None if weights is None else torch.as_tensor(weights, device=device)
    fit_part = Part.of(p.arrays["fit"], p.fit_part.y, device)
    val_part = Part.of(p.arrays["val"], p.val_part.y, device)
    stop = lambda: interrupt.hit  # noqa: E731
    result = fit(net, fit_part, val_part, cfg.train, weight, stop=stop, start=start)
    net.load_state_dict(result.best_state)
    if not p.has_test:
        no_probs = np.zeros((0, len(p.encoder.label_names)), dtype=np.float32)
        return SeedRun(cfg.train.seed, net, result, no_probs, float("nan"))
    probs, test_loss = evaluate(net, Part.of(p.arrays["test"], p.split.test.y, device))
    return SeedRun(cfg.train.seed, net, result, probs.cpu().numpy(), test_loss)


def _best_val(run: SeedRun) -> tuple[float, float]:
    return run.result.best_key()


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
        "tokens_per_s": round(run.result.tokens_per_s(), 1),
    }


def _test_metrics(runs: list[SeedRun], kept: SeedRun, p: Prepared) -> dict[str, Any]:
    """`test`: medians over seeds, per-seed values, the kept seed's per-class scores."""
    y, names = p.split.test.y, p.encoder.label_names
    seeds = [_seed_scores(r, y, len(names)) for r in runs]
    cm = confusion_matrix(y, kept.probs.argmax(-1), len(names))
    precision, recall, _ = per_class_scores(cm)
    return {
        **{
            k: float(np.median([sd[k] for sd in seeds]))
            for k in ("accuracy", "macro_f1", "loss", "tokens_per_s")
        },
        "seeds": seeds,
        "per_class": {
            n: {"precision": float(precision[i]), "recall": float(recall[i])}
            for i, n in enumerate(names)
        },
        "confusion": cm.tolist(),
    }


def _references(
    cfg: ClassifyConfig, p: Prepared, echo: Callable[[str], None], interrupted: bool
) -> dict[str, Any]:
    """Fit and score the references (unless `data.references = none`, interrupted or
    without a test part)."""
    if cfg.data.references == "none" or interrupted or not p.has_test:
        why = "interrupted" if interrupted else "data.references = none"
        why = why if p.has_test else "no test part"
        return {"references": {}, "references_skipped": {"all": why}}
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


# ------------------------------------------------------------------ checkpoints
def _record(run: SeedRun) -> dict[str, Any]:
    """A finished seed as `last.pt` keeps it for a resume: its fit and test scores."""
    r = run.result
    return {
        "seed": run.seed,
        "history": r.history,
        "best_state": r.best_state,
        "best_epoch": r.best_epoch,
        "steps": r.steps,
        "elapsed_s": r.elapsed_s,
        "stop_reason": r.stop_reason,
        "probs": torch.as_tensor(run.probs),
        "test_loss": run.test_loss,
    }


def _fit_result(rec: dict[str, Any], ckpt: dict[str, Any] | None = None) -> FitResult:
    """The `FitResult` of a record; with `ckpt` (the last seed's `last.pt`), its last
    parameters, optimizer and generator too."""
    return FitResult(
        history=list(rec["history"]),
        best_state=rec["best_state"],
        last_state=ckpt["model"] if ckpt else rec["best_state"],
        best_epoch=int(rec["best_epoch"]),
        steps=int(rec["steps"]),
        elapsed_s=float(rec["elapsed_s"]),
        stop_reason=str(rec["stop_reason"]),
        optimizer=ckpt["optimizer"] if ckpt else {},
        generator=ckpt.get("generator") if ckpt else None,
    )


def _from_record(rec: dict[str, Any], cfg: ClassifyConfig, p: Prepared) -> SeedRun:
    """A finished seed rebuilt from its record (on the CPU)."""
    net = build_net(cfg.model, p.encoder)
    net.load_state_dict(rec["best_state"])
    probs = rec["probs"].numpy()
    return SeedRun(int(rec["seed"]), net, _fit_result(rec), probs, float(rec["test_loss"]))


def _best_checkpoint(run: SeedRun, cfg: ClassifyConfig, p: Prepared) -> dict[str, Any]:
    """`best.pt`: plain builtins and tensors (loads with weights_only=True)."""
    r = run.result
    return {
        "task": TASK,
        "config": seed_config(cfg, run.seed).to_dict(),
        "model_spec": run.net.spec(),
        "model": r.best_state,
        "optimizer": {},
        "encoder": p.encoder.to_dict(),
        "epoch": r.best_epoch,
        "step": r.steps,
        "metrics": r.history[r.best_epoch - 1],
    }


def _last_checkpoint(runs: list[SeedRun], cfg: ClassifyConfig, p: Prepared) -> dict[str, Any]:
    """`last.pt`: the last seed's last parameters, optimizer and fit record, and the
    records of the seeds before it (what a resume continues from)."""
    last, r = runs[-1], runs[-1].result
    return {
        **_best_checkpoint(last, cfg, p),
        "config": cfg.to_dict(),  # the run's (first seed): a resume counts its seeds from it
        "model": r.last_state,
        "optimizer": r.optimizer,
        "generator": r.generator,
        "epoch": len(r.history),
        "metrics": r.history[-1],
        "fit": _record(last),
        "seeds_done": [_record(run) for run in runs[:-1]],
    }


def _resumed(run_dir: str, cfg: ClassifyConfig, p: Prepared) -> tuple[list[SeedRun], FitResult]:
    """The finished seeds of the run in `run_dir` and the last seed's fit to continue."""
    ckpt = load_checkpoint(run_dir, prefer="last")
    if ckpt.get("task") != TASK or "fit" not in ckpt:
        raise CheckpointError(
            f"{run_dir} holds no classification run to resume; give a run folder written by "
            "rnnkit classify"
        )
    done = [_from_record(rec, cfg, p) for rec in ckpt["seeds_done"]]
    return done, _fit_result(ckpt["fit"], ckpt)


# ------------------------------------------------------------------ the run folder
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


def _summary(name: str, results: dict[str, Any], runs: list[SeedRun], run_dir: Path) -> str:
    """The last printed line: the model's accuracy beside the references', why it stopped
    (without a test part: the kept seed's validation accuracy)."""
    n, test = len(runs), results["test"]
    reasons = sorted({r.result.stop_reason for r in runs})
    if test is None:
        score = f"validation accuracy {results['validation']['accuracy']:.4f} (no test part)"
    else:
        refs = results["references"]
        ref_text = "".join(f" | {k} {m['accuracy']:.4f}" for k, m in refs.items())
        score = (
            f"test accuracy {test['accuracy']:.4f}{' (median)' if n > 1 else ''}, "
            f"macro F1 {test['macro_f1']:.4f}{ref_text}"
        )
    return (
        f"classify {name} ({n} seed{'s' if n > 1 else ''}): {score}"
        f" | stopped: {'; '.join(reasons)} | {run_dir}"
    )


def _validation(run: SeedRun) -> dict[str, Any]:
    """The kept seed's scores on the validation part (what a run without a test part has)."""
    row = run.result.history[run.result.best_epoch - 1]
    return {
        "seed": run.seed,
        "accuracy": row["val_accuracy"],
        "loss": row["val_loss"],
        "best_epoch": run.result.best_epoch,
    }


def _write_run(
    folder: RunFolder,
    runs: list[SeedRun],
    cfg: ClassifyConfig,
    p: Prepared,
    results: dict[str, Any],
) -> SeedRun:
    """Write both checkpoints, `metrics.json`, `predictions.csv` and the figures (no
    `predictions.csv` or `confusion.png` without a test part)."""
    from rnnkit.plots import plot_classify_curves, plot_confusion

    kept = max(runs, key=_best_val)
    folder.save_checkpoint("last.pt", _last_checkpoint(runs, cfg, p))
    folder.save_checkpoint("best.pt", _best_checkpoint(kept, cfg, p))
    write_atomic(folder.path / "metrics.json", json.dumps(results, indent=2) + "\n")
    plot_classify_curves(folder.read_metrics(), folder.path / "curves.png", p.split.name)
    if not p.has_test:
        return kept
    names = p.encoder.label_names
    csv_text = predictions_csv(p.split.test.ids, p.split.test.y, kept.probs, names)
    write_atomic(folder.path / "predictions.csv", csv_text)
    cm = np.array(results["test"]["confusion"])
    acc = accuracy(p.split.test.y, kept.probs.argmax(-1))
    title = f"{p.split.name}: test accuracy {acc:.4f} (seed {kept.seed})"
    plot_confusion(cm, names, folder.path / "confusion.png", title)
    return kept


def _seed_line(run: SeedRun, p: Prepared) -> str:
    sc = _seed_scores(run, p.split.test.y, len(p.encoder.label_names))
    if p.has_test:
        score = f"test accuracy {sc['accuracy']:.4f}, macro F1 {sc['macro_f1']:.4f}"
    else:
        score = f"validation accuracy {_validation(run)['accuracy']:.4f}"
    return (
        f"seed {run.seed}: {score}"
        f" | {sc['epochs']} epochs in {sc['fit_s']:.1f} s, best {sc['best_epoch']}"
        f", {sc['tokens_per_s']:,.0f} tokens/s"
        f" | stopped: {run.result.stop_reason}"
    )


def _fit_seeds(
    cfg: ClassifyConfig,
    p: Prepared,
    folder: RunFolder,
    echo: Callable[[str], None],
    resume: tuple[list[SeedRun], FitResult] | None,
) -> tuple[list[SeedRun], bool]:
    """Fit each seed not finished yet (continuing a resumed one), keeping `metrics.jsonl`
    and `last.pt` after each; returns the runs and whether a Ctrl-C ended them."""
    runs, start = resume if resume else ([], None)
    device = resolve_device(cfg.train.device)
    with Interrupt() as interrupt, tuned_threads(cfg.train.threads), global_rng_kept(device):
        for seed in range(cfg.train.seed + len(runs), cfg.train.seed + cfg.train.seeds):
            run = _fit_seed(seed_config(cfg, seed), p, device, interrupt, start)
            runs.append(run)
            start = None
            rows = [{"seed": r.seed, **row} for r in runs for row in r.result.history]
            folder.keep_metrics(rows)
            folder.save_checkpoint("last.pt", _last_checkpoint(runs, cfg, p))
            echo(_seed_line(run, p))
            if interrupt.hit:
                break
    return runs, interrupt.hit


def run_classify(
    source: str | None = None,
    config: ClassifyConfig | None = None,
    *,
    out: str | None = None,
    echo: Callable[[str], None] = print,
    resume: str | None = None,
    split: Split | None = None,
) -> dict[str, Any]:
    """Train and score a sequence classifier; write the run folder.

    Args:
        source: a `.ts` file (or a folder with one `*_TRAIN.ts`), a CSV/TSV table, a
            folder of MNIST IDX files or of one subfolder of `.txt` files per class, or a
            named dataset (`digits`, `first-names`, `fashion-mnist`; see
            `rnnkit.classify.data`); None keeps `config.data.source`.
        config: the run's config (default `ClassifyConfig()`, recipe `auto`); copied, never
            changed. Each of `train.seeds` seeds (`seed`, `seed + 1`, ...) gets a full
            `train.time_budget` on the same split.
        out: the run folder (default `runs/classify-<name>-<timestamp>`; with `resume`, the
            resumed folder).
        echo: where the recipe line, a line per seed, the references' line and the summary go.
        resume: a run folder to continue (its `last.pt`; `config` should be its saved config,
            `rnnkit.config.resume_classify`).
        split: data in memory instead of `source` (checked with
            `rnnkit.classify.data.check_trainable`); its test part may be empty (see the
            module docstring).

    Returns:
        The `metrics.json` content plus `run_dir`, `summary` (the last printed line) and
        `interrupted`.
    """
    cfg = copy.deepcopy(config or ClassifyConfig())
    if source:
        cfg.data.source = source
    check_limits(cfg)
    p = prepare(cfg, split)
    cfg = apply_recipe(cfg, DataStats.of(p.split.train, p.encoder.input_size))
    previous = _resumed(resume, cfg, p) if resume else None
    run_dir = Path(resume) if resume else _run_dir(out, p.split.name)
    folder = RunFolder(run_dir, DistContext(), echo)
    folder.write_config(_config_json(cfg, p))
    echo(f"run folder: {run_dir}")
    if cfg.recipe_note:
        echo(cfg.recipe_note)
    runs, interrupted = _fit_seeds(cfg, p, folder, echo, previous)
    refs = _references(cfg, p, echo, interrupted)
    kept = max(runs, key=_best_val)
    test = _test_metrics(runs, kept, p) if p.has_test else None
    name = p.split.name
    results = {"source": cfg.data.source, "name": name, "seeds": len(runs), "test": test, **refs}
    if not p.has_test:
        results["validation"] = _validation(kept)
    results["stop_reasons"] = [r.result.stop_reason for r in runs]
    _write_run(folder, runs, cfg, p, results)
    summary = _summary(name, results, runs, run_dir)
    echo(summary)
    return {**results, "run_dir": str(run_dir), "summary": summary, "interrupted": interrupted}


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
    """New data to label: a `.ts` file, a table, an IDX folder or a text class folder
    (`rnnkit.classify.data.read_part`), labels optional, relabelled to the model's classes
    (a label it does not know counts as wrong)."""
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(
            f"{data} does not exist; give a .ts, .csv or .tsv file, an IDX folder or a "
            "folder of class subfolders to label"
        )
    seqs = read_part(path, label_col, encoder.level, False, encoder.label_names)
    return relabel(seqs, encoder.label_names)


def predict_probs(net: SequenceClassifierNet, encoder: InputEncoder, seqs: Sequences) -> np.ndarray:
    """Class probabilities `(N, K)` (float32, the encoder's label order) of `seqs` under a
    loaded classifier, on the CPU: `encoder.transform`, then `evaluate`."""
    arrays = encoder.transform(seqs)
    probs, _ = evaluate(net, Part.of(arrays, np.maximum(seqs.y, 0), torch.device("cpu")))
    return probs.numpy()


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
    y = seqs.y if len(seqs.y) and (seqs.y >= 0).any() else None
    probs_np = predict_probs(net, encoder, seqs)
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
