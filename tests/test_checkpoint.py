"""Atomic writes and checkpoints: plain dicts, versioned, never half-written."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import pytest
import torch

from rnnkit.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from rnnkit.errors import RnnkitError
from rnnkit.storage import write_atomic


def test_write_atomic_takes_bytes_text_or_a_writer(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"  # the folder is created
    assert write_atomic(target, b"\x00\x01") == target and target.read_bytes() == b"\x00\x01"
    write_atomic(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()  # UTF-8, no newline translation

    def writer(fh: IO[bytes]) -> None:
        fh.write(b"streamed")

    write_atomic(target, writer)
    assert target.read_bytes() == b"streamed"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]  # no temporary left behind


def test_failed_write_atomic_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    write_atomic(target, "old")

    def broken(fh: IO[bytes]) -> None:
        fh.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_checkpoint_is_atomic_plain_and_versioned(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "last.pt", {"task": "lm", "w": torch.ones(3), "n": [1, 2]})
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["format_version"] == FORMAT_VERSION and ckpt["n"] == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    torch.save({"format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(RnnkitError, match="format 99"):
        load_checkpoint(tmp_path / "future.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RnnkitError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(RnnkitError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_failed_write_keeps_the_old_checkpoint(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "last.pt", {"task": "lm", "v": 1})

    class Unsaveable:
        def __reduce__(self) -> tuple:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        save_checkpoint(tmp_path / "last.pt", {"task": "lm", "v": Unsaveable()})
    assert load_checkpoint(tmp_path / "last.pt")["v"] == 1
    assert len(list(tmp_path.iterdir())) == 1
