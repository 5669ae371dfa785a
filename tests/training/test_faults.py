"""I/O faults in a training run: every failed read or write is one clear line, loses nothing.

Faults are injected inside `write_atomic` (the one writer every run-folder file goes through):
at the temporary file's creation, its write, its sync or the rename, with ENOSPC, EACCES or
EROFS. Each must give one `StorageError` line naming the file, leave the files written
before byte for byte as they were, and leave no temporary file behind. A subprocess killed
mid-run must leave a run that `--resume` continues.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import rnnkit.storage as storage
from conftest import TINY_LM_SETTINGS, TINY_TEXT
from rnnkit.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.cli import main
from rnnkit.errors import CheckpointError, RnnkitError, StorageError
from rnnkit.storage import storage_message, write_atomic
from rnnkit.training.distributed import DistContext
from rnnkit.training.run_folder import RunFolder

ERRNOS = {
    errno.ENOSPC: "no space left",
    errno.EACCES: "permission denied",
    errno.EROFS: "read-only file system",
}
STAGES = ("open", "write", "sync", "rename")
ROWS = [
    {"epoch": 1, "train_loss": 2.0, "train_ppl": 7.4, "val_loss": 1.9, "val_ppl": 6.7},
    {"epoch": 2, "train_loss": 1.5, "train_ppl": 4.5, "val_loss": 1.6, "val_ppl": 5.0},
]


class _OsProxy:
    """`os` as `rnnkit.storage` sees it, with `fsync` and `replace` replaced."""

    def __init__(self, **overrides: Callable[..., Any]) -> None:
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name) or getattr(os, name)


def inject(
    monkeypatch: pytest.MonkeyPatch, code: int, stage: str, names: set[str] | None = None
) -> None:
    """Make `write_atomic` fail with `code` at `stage` for the files named in `names` (all
    files when None), the way the OS reports it: an `OSError` with that errno."""

    def hit(name: str) -> bool:
        return names is None or name in names

    def fail() -> OSError:
        return OSError(code, os.strerror(code))

    targets: dict[int, str] = {}  # fd of a temporary file -> the name it will be renamed to

    def mkstemp(prefix: str, suffix: str, dir: Path) -> tuple[int, str]:
        name = prefix[1:-1]  # ".last.pt." -> "last.pt"
        if stage == "open" and hit(name):
            raise fail()
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dir)
        targets[fd] = name
        return fd, tmp

    def write(self: storage._RecordingFile, data: Any) -> int | None:
        if stage == "write" and hit(targets.get(self.fileno(), "")):
            os.write(self.fileno(), bytes(data)[:7])  # a partial write, then the disk is full
            raise fail()
        return io_write(self, data)

    def fsync(fd: int) -> None:
        if stage == "sync" and hit(targets.get(fd, "")):
            raise fail()
        os.fsync(fd)

    def replace(src: str, dst: str | Path) -> None:
        if stage == "rename" and hit(Path(dst).name):
            raise fail()
        os.replace(src, dst)

    io_write = storage._RecordingFile.write
    monkeypatch.setattr(storage, "tempfile", SimpleNamespace(mkstemp=mkstemp))
    monkeypatch.setattr(storage._RecordingFile, "write", write)
    monkeypatch.setattr(storage, "os", _OsProxy(fsync=fsync, replace=replace))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of `folder` (recursively) by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_one_line(exc: BaseException, path: Path, code: int) -> None:
    """A `StorageError` on one line, naming `path` and the errno's cause."""
    assert isinstance(exc, StorageError)
    message = str(exc)
    assert "\n" not in message and str(path) in message, message
    assert ERRNOS[code] in message, message


def write_everything(folder: RunFolder) -> None:
    folder.write_config('{"model": {"kind": "gru"}}')
    folder.append_metrics(ROWS[0])
    folder.save_checkpoint("last.pt", {"task": "lm", "weights": torch.arange(3)})
    folder.plot(ROWS[:1], title="tiny")
    folder.append_samples(["[epoch 1] 'the a'"])


SITES: dict[str, tuple[str, Callable[[RunFolder], None]]] = {
    "config": ("config.json", lambda f: f.write_config('{"model": {"kind": "lstm"}}')),
    "metrics": ("metrics.jsonl", lambda f: f.append_metrics(ROWS[1])),
    "checkpoint": (
        "last.pt",
        lambda f: f.save_checkpoint("last.pt", {"task": "lm", "weights": torch.ones(99)}),
    ),
    "curves": ("curves.png", lambda f: f.plot(ROWS, title="tiny")),
    "samples": ("samples.txt", lambda f: f.append_samples(["[epoch 2] 'the b'"])),
}


# Every site with every errno mid-write, and every site with a full disk at every stage.
CASES = sorted(
    {(site, code, "write") for site in SITES for code in ERRNOS}
    | {(site, errno.ENOSPC, stage) for site in SITES for stage in STAGES}
)


@pytest.fixture(scope="module")
def written_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with one of each file, written once and copied by each test."""
    run = tmp_path_factory.mktemp("template") / "run"
    write_everything(RunFolder(run, DistContext()))
    return run


@pytest.mark.parametrize(("site", "code", "stage"), CASES)
def test_a_failed_run_folder_write_is_one_line_and_loses_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    written_run: Path,
    site: str,
    code: int,
    stage: str,
) -> None:
    run = tmp_path / "run"
    shutil.copytree(written_run, run)
    folder = RunFolder(run, DistContext())
    before = snapshot(run)
    name, write = SITES[site]
    inject(monkeypatch, code, stage, {name})
    with pytest.raises(StorageError) as info:
        write(folder)
    assert_one_line(info.value, run / name, code)
    assert "continue with --resume" in str(info.value)  # last.pt exists: say how to go on
    assert snapshot(run) == before  # the earlier files, and no temporary file
    monkeypatch.undo()
    write(folder)  # space freed: the same write now succeeds on top of the kept files
    assert folder.read_metrics() == (ROWS if site == "metrics" else ROWS[:1])


def test_a_full_disk_before_any_checkpoint_does_not_suggest_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, errno.ENOSPC, "write")
    with pytest.raises(StorageError) as info:
        RunFolder(tmp_path / "run", DistContext()).write_config("{}")
    assert_one_line(info.value, tmp_path / "run" / "config.json", errno.ENOSPC)
    assert "--resume" not in str(info.value)
    assert snapshot(tmp_path) == {}


def test_an_unwritable_parent_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: Path, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(StorageError) as info:
        RunFolder(tmp_path / "run", DistContext()).write_config("{}")
    assert_one_line(info.value, tmp_path / "run", errno.EACCES)


def test_appends_rewrite_atomically_and_keep_the_file_mode(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path, DistContext())
    (tmp_path / "metrics.jsonl").write_text(json.dumps(ROWS[0]))  # no final newline
    (tmp_path / "metrics.jsonl").chmod(0o640)
    folder.append_metrics(ROWS[1])
    assert folder.read_metrics() == ROWS  # the rows never run together
    assert (tmp_path / "metrics.jsonl").stat().st_mode & 0o777 == 0o640
    write_atomic(tmp_path / "new.txt", "x")
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_read_faults_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = RunFolder(tmp_path, DistContext())
    write_everything(folder)

    def vanished(self: Path) -> bytes:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(self))

    with monkeypatch.context() as m:
        m.setattr(Path, "read_bytes", vanished)
        with pytest.raises(StorageError, match=r"cannot read .*metrics\.jsonl: it vanished"):
            folder.read_metrics()
    with monkeypatch.context() as m:
        m.setattr(torch, "load", lambda *a, **k: vanished(tmp_path / "last.pt"))
        with pytest.raises(StorageError, match=r"cannot read .*last\.pt: it vanished"):
            load_checkpoint(tmp_path)

    def denied(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    with monkeypatch.context() as m:
        m.setattr(torch, "load", denied)
        with pytest.raises(StorageError) as info:
            load_checkpoint(tmp_path)
        assert_one_line(info.value, tmp_path / "last.pt", errno.EACCES)


def test_a_damaged_metrics_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text(json.dumps(ROWS[0]) + '\n{"epoch": 2, "tra')
    with pytest.raises(StorageError, match=r"metrics\.jsonl line 2 is not a JSON row"):
        RunFolder(tmp_path, DistContext()).read_metrics()


def test_storage_messages_name_the_path_and_a_fix() -> None:
    for code in (*ERRNOS, errno.ENOENT, errno.EIO):
        for action in ("read", "write"):
            line = storage_message("/x/y.pt", OSError(code, os.strerror(code)), action, "then")
            assert line.startswith(f"cannot {action} /x/y.pt: ") and line.endswith("; then")
            assert "\n" not in line and line.count(";") == 2


def test_a_torch_save_hit_by_a_full_disk_is_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.save turns the OSError of its file into a RuntimeError; the errno still shows."""
    save_checkpoint(tmp_path / "last.pt", {"task": "lm", "v": 1})
    inject(monkeypatch, errno.ENOSPC, "write")
    with pytest.raises(StorageError, match="no space left"):
        save_checkpoint(tmp_path / "last.pt", {"task": "lm", "v": torch.zeros(10_000)})
    monkeypatch.undo()
    assert load_checkpoint(tmp_path)["v"] == 1 and snapshot(tmp_path).keys() == {"last.pt"}


class _Payload:
    """An object whose unpickling would create `marker`: a checkpoint must never run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_a_pickle_laden_checkpoint_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"format_version": 1, "task": "lm", "x": _Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


# --- whole runs -------------------------------------------------------------------------


def _train_args(folder: Path, *extra: str) -> list[str]:
    source = folder / "tiny.txt"
    source.write_text(TINY_TEXT, encoding="utf-8")
    sets = [arg for s in TINY_LM_SETTINGS for arg in ("--set", s)]
    return ["train", str(source), *sets, "--quiet", *extra]


@pytest.mark.parametrize("name", ["last.pt", "metrics.jsonl", "samples.txt"])
def test_training_into_a_full_folder_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    """The regression of the 300 KB tmpfs: exit 2, one line, no traceback, nothing lost."""
    run = tmp_path / "run"
    inject(monkeypatch, errno.ENOSPC, "write", {name})
    assert main(_train_args(tmp_path, "--out", str(run))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnkit: error: cannot write "), err
    assert "Traceback" not in err and str(run / name) in err
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporary file
    assert json.loads((run / "config.json").read_text())["data"]["source"].endswith("tiny.txt")
    for line in (run / "metrics.jsonl").read_text().splitlines() if name != "metrics.jsonl" else []:
        json.loads(line)


def _spawn_training(tmp_path: Path, run: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-m", "rnnkit", *_train_args(tmp_path, "--out", str(run), *extra)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float) -> None:
    """SIGKILL `proc` as soon as `ready()` holds (fails if it ends or times out first)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"training ended (rc {proc.returncode}) before the kill: {err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("training wrote no checkpoint in time")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _resume_after_kill(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The killed run's files load, and `--resume` runs it one epoch further."""
    ckpt = load_checkpoint(run, prefer="last")
    rows = RunFolder(run, DistContext()).read_metrics()  # every row whole
    assert rows and rows[-1]["step"] >= ckpt["step"]
    target = ckpt["epoch"] + 1
    argv = ["train", "--resume", str(run), "--set", f"train.epochs={target}", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    assert load_checkpoint(run, prefer="last")["epoch"] == target


def test_a_killed_training_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    proc = _spawn_training(tmp_path, run, "--set", "train.epochs=50")
    _kill_when(proc, lambda: (run / "last.pt").is_file(), timeout=120)
    _resume_after_kill(run, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_training_killed_at_seeded_moments_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    """Killed a seeded while after its first checkpoint: mid-epoch, mid-write or mid-plot."""
    run = tmp_path / "run"
    delay = random.Random(seed).uniform(0.0, 3.0)
    first: list[float] = []

    def ready() -> bool:
        if not first and (run / "last.pt").is_file():
            first.append(time.monotonic())
        return bool(first) and time.monotonic() - first[0] >= delay

    proc = _spawn_training(tmp_path, run, "--set", "train.epochs=200")
    _kill_when(proc, ready, timeout=120)
    _resume_after_kill(run, capsys)


def _tmpfs(tmp_path: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted with `options` under `tmp_path`, or a skip saying why not."""
    if not sys.platform.startswith("linux"):
        pytest.skip("tmpfs needs Linux")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    yield from _tmpfs(tmp_path, "size=300k")


@pytest.fixture
def readonly_tmpfs(tmp_path: Path) -> Iterator[Path]:
    yield from _tmpfs(tmp_path, "ro,size=300k")


@pytest.mark.slow
def test_training_into_a_real_read_only_folder(
    readonly_tmpfs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = readonly_tmpfs / "run"
    assert main(_train_args(tmp_path, "--out", str(run))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot write {run}: read-only file system" in err, err


@pytest.mark.slow
def test_training_into_a_real_full_tmpfs(
    small_tmpfs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reported case, on a real 300 KB file system: one line, exit 2, files kept."""
    run = small_tmpfs / "run"
    argv = _train_args(tmp_path, "--out", str(run), "--set", "model.hidden_size=160")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on the device" in err, err
    assert not [p for p in run.iterdir() if p.name.startswith(".")]
    json.loads((run / "config.json").read_text())
    with pytest.raises(RnnkitError):  # whatever did get written is whole or refused clearly
        load_checkpoint(run)
