"""The run-folder writer: what rank 0 writes, and that no other rank writes anything."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import torch

import rnnkit.training.run_folder as run_folder_module
from rnnkit.checkpoint import load_checkpoint
from rnnkit.training.distributed import DistContext
from rnnkit.training.run_folder import RunFolder

ROWS = [
    {"epoch": 1, "train_loss": 2.0, "train_ppl": 7.4, "val_loss": 1.9, "val_ppl": 6.7},
    {"epoch": 2, "train_loss": 1.5, "train_ppl": 4.5, "val_loss": 1.6, "val_ppl": 5.0},
]


def write_everything(folder: RunFolder) -> None:
    folder.write_config('{"model": {"kind": "gru"}}')
    for row in ROWS:
        folder.append_metrics(row)
    folder.save_checkpoint("last.pt", {"task": "lm", "weights": torch.arange(3)})
    folder.plot(ROWS, title="tiny")
    folder.append_samples(["[epoch 1] 'the a'", "[epoch 1] 'the b'"])
    folder.echo("epoch 1 ...")


def test_rank_0_writes_the_run_folder(tmp_path: Path) -> None:
    lines: list[str] = []
    folder = RunFolder(tmp_path / "run", DistContext(rank=0, world_size=2), echo=lines.append)
    write_everything(folder)
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text()) == {"model": {"kind": "gru"}}
    assert (run / "config.json").read_text().endswith("}\n")
    assert folder.read_metrics() == ROWS
    assert torch.equal(load_checkpoint(run / "last.pt")["weights"], torch.arange(3))
    assert (run / "curves.png").stat().st_size > 0
    assert (run / "samples.txt").read_text() == "[epoch 1] 'the a'\n[epoch 1] 'the b'\n"
    assert lines == ["epoch 1 ..."]
    assert {p.name for p in run.iterdir()} == {
        "config.json",
        "metrics.jsonl",
        "last.pt",
        "curves.png",
        "samples.txt",
    }


def test_other_ranks_write_nothing(tmp_path: Path) -> None:
    lines: list[str] = []
    folder = RunFolder(tmp_path / "run", DistContext(rank=1, world_size=2), echo=lines.append)
    write_everything(folder)
    assert not (tmp_path / "run").exists()
    assert lines == []
    assert folder.read_metrics() == []  # reading is allowed on every rank


def test_other_ranks_leave_an_existing_folder_untouched(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    write_everything(RunFolder(run, DistContext(rank=3, world_size=4)))
    assert [p.name for p in run.iterdir()] == ["metrics.jsonl"]
    assert RunFolder(run, DistContext(rank=3, world_size=4)).read_metrics() == ROWS[:1]


def test_run_folder_does_not_import_torch_distributed_at_run_time() -> None:
    """The rank comes from the DistContext passed in; its import is for type checking only."""
    tree = ast.parse(Path(run_folder_module.__file__).read_text(encoding="utf-8"))
    runtime_imports = [
        alias.name if isinstance(node, ast.Import) else f"{node.module}"
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not any("distributed" in name for name in runtime_imports), runtime_imports
