"""Development loop of the classification recipe (issue 26): cross-validation inside the
training files only, so that the recipe is tuned without looking at a test file.

For each dataset the training part (`load_split(...).train`: a UCR `_TRAIN.ts` file,
digits' training half, first-names' training 80%) is cut into `--folds` stratified folds;
each fold in turn is held out while the rest goes through what `rnnkit classify` does
with it (a stratified validation part, the encoder, the automatic recipe, `fit` with the
budget), and the held-out fold is scored. The mean fold accuracy is printed per dataset.
`--set table.key=value` pins keys as the CLI's `--set` does, to compare a variant. The test
files are never read for scoring (a `.ts` pair's test file is loaded by `load_split` only
to check it aligns with the training file). Run it alone: the budget is wall time.

    python -m benchmarks.classify_dev [--only GunPoint,digits] [--folds 3] [--budget 20]
        [--set model.pooling=max ...] [--threads 2]

A fixed number of epochs (`--budget 100000 --set train.max_epochs=40`) compares variants
whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from benchmarks.classify_panel import PANEL, data_argument
from benchmarks.report import cpu_name
from rnnkit.classify.data import Split, load_split, stratified_split
from rnnkit.classify.encoding import InputEncoder
from rnnkit.classify.recipe import DataStats, apply_recipe
from rnnkit.classify.run import build_net
from rnnkit.classify.train import Part, class_weights, evaluate, fit
from rnnkit.config.resolve import resolve_classify
from rnnkit.training.environment import seed_everything, set_threads


def _folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """`k` stratified folds of the indices of `y`."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        for i, j in enumerate(idx):
            folds[i % k].append(int(j))
    return [np.array(sorted(f)) for f in folds]


def fold_accuracy(split: Split, held: np.ndarray, sets: list[str], budget: float) -> float:
    """Fit on the training part minus `held` as `rnnkit classify` would; score `held`."""
    train = split.train
    rest = np.setdiff1d(np.arange(len(train)), held)
    cfg = resolve_classify(split.name, overrides=sets)
    cfg.train.time_budget = budget
    part = train.subset(rest)
    fit_idx, val_idx = stratified_split(part.y, cfg.data.val_fraction, cfg.train.seed)
    encoder = InputEncoder.fit(part, cfg.data.level)
    cfg = apply_recipe(cfg, DataStats.of(part, encoder.input_size))
    seed_everything(cfg.train.seed)
    net = build_net(cfg.model, encoder)
    device = torch.device("cpu")
    k = len(encoder.label_names)
    weights = class_weights(part.y, k, cfg.train.class_weights)
    weight = None if weights is None else torch.as_tensor(weights)
    fit_p, val_p = part.subset(fit_idx), part.subset(val_idx)
    result = fit(
        net,
        Part.of(encoder.transform(fit_p), fit_p.y, device),
        Part.of(encoder.transform(val_p), val_p.y, device),
        cfg.train,
        weight,
    )
    net.load_state_dict(result.best_state)
    held_p = train.subset(held)
    probs, _ = evaluate(net, Part.of(encoder.transform(held_p), held_p.y, device))
    print(
        f"    fold: {result.stop_reason} after {len(result.history)} epochs, "
        f"{result.elapsed_s:.0f} s; {cfg.recipe_note[:90]}"
    )
    return float((probs.argmax(-1).numpy() == held_p.y).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated panel names")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--fold-seed", type=int, default=0, help="seed of the folds")
    ap.add_argument("--budget", type=float, default=0, help="seconds per fold (0 = the panel's)")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    args = ap.parse_args()
    set_threads(args.threads)
    wanted = {n for n in args.only.split(",") if n}
    out = {}
    for entry in PANEL:
        if entry.name not in wanted if wanted else not entry.dev:
            continue
        split = load_split(data_argument(entry), "", "", "char", 0)
        budget = args.budget or entry.budget
        t0 = time.perf_counter()
        accs = [
            fold_accuracy(split, held, args.sets, budget)
            for held in _folds(split.train.y, args.folds, args.fold_seed)
        ]
        out[entry.name] = round(statistics.mean(accs), 4)
        print(
            f"{entry.name}: CV accuracy {out[entry.name]:.4f} "
            f"({', '.join(f'{a:.3f}' for a in accs)}; {time.perf_counter() - t0:.0f} s)"
        )
    print(json.dumps({"cv": out, "sets": args.sets, "cpu": cpu_name()}))


if __name__ == "__main__":
    main()
