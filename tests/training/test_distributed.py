"""Multi-process training: per-rank batches, 2 processes equal 1 on the combined batch, a
lost rank stops the others with a clear error, and two "nodes" meet through torchrun."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.checkpoint import load_checkpoint
from rnnkit.config import RunConfig
from rnnkit.errors import RnnkitError
from rnnkit.lm.train import train_lm
from rnnkit.text.batches import BatchIterator, RankBatches
from rnnkit.training.distributed import DistContext, shard_rows

TEXT = (
    "the time traveller (for so it will be convenient to speak of him) was expounding a "
    "recondite matter to us. his grey eyes shone and twinkled, and his usually pale face "
    "was flushed and animated.\n"
) * 12

TINY = [  # per rank: 2 streams of 16 steps; no dropout, so the runs can match exactly
    "data.batch_size=2",
    "data.num_steps=16",
    "model.kind=gru",
    "model.hidden_size=24",
    "model.embedding_dim=8",
    "model.dropout=0.0",
    "train.optimizer=adam",
    "train.lr=0.01",
    "train.epochs=2",
    "train.threads=1",
    "generate.every=0",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update({"OMP_NUM_THREADS": "1", "RNNKIT_DIST_TIMEOUT": "20", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def train_args(source: Path, out: Path, *more: str) -> list[str]:
    sets = [a for s in (f"data.source={source}", *TINY, *more) for a in ("--set", s)]
    # The default preset, not the automatic recipe: every key is the test's to fix.
    return ["-m", "rnnkit", "train", "--preset", "default", *sets, "--out", str(out), "--quiet"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_ranks_take_disjoint_rows_of_the_combined_batch(sampling: str) -> None:
    tokens = np.arange(2000) % 97
    whole = BatchIterator(tokens, 6, 5, sampling, torch.Generator().manual_seed(3))
    shards = [
        RankBatches(tokens, 2, 5, sampling, torch.Generator().manual_seed(3), r, 3)
        for r in range(3)
    ]
    assert all(len(s) == len(whole) for s in shards)
    for (X, Y), *parts in zip(whole, *shards, strict=True):
        assert torch.equal(torch.cat([x for x, _ in parts]), X)
        assert torch.equal(torch.cat([y for _, y in parts]), Y)
    assert [shard_rows(5, DistContext(r, 2)) for r in (0, 1)] == [slice(0, 2), slice(2, 5)]


@pytest.fixture(scope="module")
def two_process_run(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`torchrun --standalone --nproc-per-node 2 -m rnnkit train ...` (gloo, CPU)."""
    out = tmp_path_factory.mktemp("ddp") / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    done = subprocess.run(
        [*cmd, *train_args(source, out)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("done (") == 1 and "run folder:" not in done.stdout  # rank 0, --quiet
    return out


def test_two_processes_equal_one_on_the_combined_batch(
    two_process_run: Path, tmp_path: Path
) -> None:
    cfg = RunConfig.from_dict(json.loads((two_process_run / "config.json").read_text()))
    cfg.data.batch_size *= 2  # one process, both ranks' rows
    single = train_lm(cfg, out=tmp_path / "single", quiet=True, echo=lambda _: None)

    ddp = load_checkpoint(two_process_run / "last.pt", prefer="last")
    one = load_checkpoint(tmp_path / "single" / "last.pt", prefer="last")
    assert ddp["step"] == one["step"] > 0
    for name, value in one["model"].items():
        torch.testing.assert_close(ddp["model"][name], value, rtol=1e-4, atol=1e-5)
    # Rank r carried the hidden state of rows r*B .. (r+1)*B-1 of the combined batch.
    assert ddp["world_size"] == 2 and [r["rank"] for r in ddp["ranks"]] == [0, 1]
    carried = torch.cat([r["carried_state"][0] for r in ddp["ranks"]], dim=1)  # (L, 2B, H)
    # The state is the weights' image after two epochs of Adam: AVX2 kernels sum in another
    # order than AVX-512 ones, and a few of its 96 numbers drift by up to ~4e-5.
    torch.testing.assert_close(carried, one["carried_state"][0], rtol=1e-4, atol=1e-4)
    rows = [
        json.loads(line) for line in (two_process_run / "metrics.jsonl").read_text().splitlines()
    ]
    assert len(rows) == len(single.history) == 2
    for a, b in zip(rows, single.history, strict=True):
        for key in ("train_loss", "val_loss", "val_unk"):  # reduced across the ranks
            assert a[key] == pytest.approx(b[key], rel=1e-5), key
        assert a["tokens_per_sec"] > 0


def test_resume_needs_the_same_number_of_processes(two_process_run: Path) -> None:
    cfg = RunConfig.from_dict(json.loads((two_process_run / "config.json").read_text()))
    cfg.train.epochs = 3
    with pytest.raises(RnnkitError, match=r"trained by 2 process\(es\) and this run has 1"):
        train_lm(cfg, resume=two_process_run, quiet=True, echo=lambda _: None)


@pytest.mark.slow
def test_two_process_resume_continues_bit_for_bit(source: Path, tmp_path: Path) -> None:
    """Each rank resumes its own streams, carried state and dropout generator."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]

    def torchrun(*args: str) -> None:
        done = subprocess.run([*cmd, *args], env=child_env(), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]

    extra = "model.dropout=0.3", "train.schedule=constant"  # a schedule spans the epochs
    torchrun(*train_args(source, tmp_path / "straight", *extra, "train.epochs=3"))
    torchrun(*train_args(source, tmp_path / "split", *extra, "train.epochs=1"))
    torchrun("-m", "rnnkit", "train", "--resume", str(tmp_path / "split"), "--epochs", "3")
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "split" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def start_ranks(source: Path, out: Path, timeout_s: int) -> list[subprocess.Popen[str]]:
    """Two ranks started by hand, as torchrun would, but with no agent to clean up after."""
    port = str(free_port())
    return [
        subprocess.Popen(
            [sys.executable, *train_args(source, out, "train.epochs=100000")],
            env=child_env(
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                WORLD_SIZE="2",
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
                RNNKIT_DIST_TIMEOUT=str(timeout_s),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]


def wait_for_training(procs: list[subprocess.Popen[str]], out: Path) -> None:
    deadline = time.monotonic() + 60
    while not (out / "metrics.jsonl").exists():  # rank 0 finished an epoch: both train
        assert all(p.poll() is None for p in procs), procs[0].communicate()[1][-2000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.1)


@pytest.mark.parametrize(
    "fault", ["kill", pytest.param("hang", marks=pytest.mark.slow)], ids=["kill", "hang"]
)
def test_a_lost_rank_stops_the_others_with_a_clear_error(
    source: Path, tmp_path: Path, fault: str
) -> None:
    out = tmp_path / "run"
    procs = start_ranks(source, out, timeout_s=3)
    try:
        wait_for_training(procs, out)
        t0 = time.monotonic()
        procs[1].send_signal(signal.SIGKILL if fault == "kill" else signal.SIGSTOP)
        _, err = procs[0].communicate(timeout=60)
        waited = time.monotonic() - t0
    finally:
        for p in procs:
            p.kill()
            p.communicate()
    assert procs[0].returncode == 2, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("rnnkit: error: rank 0 of 2 lost the other processes"), last
    assert "RNNKIT_DIST_TIMEOUT" in last and "resume the run" in last
    assert waited < 30


@pytest.mark.slow
def test_two_nodes_meet_through_torchrun_rendezvous(source: Path, tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node"]
    rdzv = ["1", "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}"]
    out = tmp_path / "run"
    nodes = [
        subprocess.Popen(
            [*cmd, *rdzv, "--rdzv-id", "rnnkit-test", *train_args(source, out)],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        results = [node.communicate(timeout=240) for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    assert [n.returncode for n in nodes] == [0, 0], results[0][1][-2000:] + results[1][1][-2000:]
    ckpt = load_checkpoint(out / "last.pt", prefer="last")
    assert ckpt["world_size"] == 2 and ckpt["epoch"] == 2
