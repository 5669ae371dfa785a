"""I/O faults of the text side: `prepare`'s folder, its source, and the download cache.

Each failed read or write is one `StorageError` line naming the file; a failed prepare
leaves no file of its own (a full disk gets its space back) and no temporary file, and a
prepare killed at any moment leaves a folder that loads or is refused with "prepare again".
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

import rnnkit.storage as storage
from conftest import TINY_TEXT, data_table
from rnnkit.cli import main
from rnnkit.errors import DataError, StorageError
from rnnkit.text import prepared, sources
from rnnkit.text.corpora import load_corpus
from rnnkit.text.prepared import load_prepared, prepare
from rnnkit.text.sources import RemoteFile, read_text

ERRNOS = {
    errno.ENOSPC: "no space left",
    errno.EACCES: "permission denied",
    errno.EROFS: "read-only file system",
}


def oserror(code: int, path: object = None) -> OSError:
    return OSError(code, os.strerror(code), None if path is None else str(path))


def assert_one_line(exc: BaseException, path: Path, what: str) -> None:
    assert isinstance(exc, StorageError)
    message = str(exc)
    assert "\n" not in message and str(path) in message and what in message, message


def same_corpus(a: Any, b: Any) -> bool:
    return a.vocab == b.vocab and all(
        np.array_equal(getattr(a, k), getattr(b, k)) for k in ("train", "val", "test")
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


class _Failing(io.RawIOBase):
    """A binary file whose writes fail with `code` after `room` bytes (a disk filling up)."""

    def __init__(self, real: IO[bytes], code: int, room: int) -> None:
        self.real, self.code, self.room = real, code, room

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        if len(data) > self.room:
            self.real.write(data[: self.room])
            self.room = 0
            raise oserror(self.code)
        self.room -= len(data)
        return self.real.write(data)

    def fileno(self) -> int:
        return self.real.fileno()

    def flush(self) -> None:
        self.real.flush()

    def close(self) -> None:
        if not self.closed:
            super().close()  # flushes first, while the real file is still open
            self.real.close()


def fail_split_file(monkeypatch: pytest.MonkeyPatch, name: str, code: int, room: int) -> None:
    """Opening `name` for writing fails (room < 0), or its writes fail after `room` bytes."""
    real_open = Path.open

    def open_(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if self.name == name and "w" in mode:
            if room < 0:
                raise oserror(code, self)
            return _Failing(real_open(self, mode, *args, **kwargs), code, room)
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)


def fail_atomic_writes(
    monkeypatch: pytest.MonkeyPatch, code: int, stage: str, only: str = ""
) -> None:
    """`write_atomic` fails with `code` when creating (`open`; for the file named `only`, if
    given) or writing its temporary file."""
    if stage == "open":
        real = storage.tempfile.mkstemp

        def mkstemp(*args: Any, prefix: str, **kwargs: Any) -> tuple[int, str]:
            if not only or prefix == f".{only}.":
                raise oserror(code)
            return real(*args, prefix=prefix, **kwargs)

        monkeypatch.setattr(storage.tempfile, "mkstemp", mkstemp)
    else:

        def write(self: Any, data: Any) -> int:
            raise oserror(code)

        monkeypatch.setattr(storage._RecordingFile, "write", write)


@pytest.mark.parametrize("code", list(ERRNOS))
@pytest.mark.parametrize(("split", "room"), [("train.npy", -1), ("train.npy", 500), ("val.npy", 0)])
def test_a_failed_split_write_is_one_line_and_cleans_up(
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    split: str,
    room: int,
) -> None:
    out = tmp_path / "out"
    fail_split_file(monkeypatch, split, code, room)
    with pytest.raises(StorageError) as info:
        prepare(data_table(source), out, quiet=True, chunk_bytes=256)
    assert_one_line(info.value, out / split, ERRNOS[code])
    assert "prepare` again" in str(info.value)
    assert list(out.iterdir()) == []  # no split file, no temporary file: the space is back
    assert source.read_text(encoding="utf-8") == TINY_TEXT
    monkeypatch.undo()
    prepare(data_table(source), out, quiet=True)
    assert same_corpus(load_prepared(out), load_corpus(data_table(source)))


@pytest.mark.parametrize("stage", ["open", "write"])
@pytest.mark.parametrize("code", list(ERRNOS))
def test_a_failed_vocab_or_manifest_write_is_one_line(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, stage: str
) -> None:
    out = tmp_path / "out"
    fail_atomic_writes(monkeypatch, code, stage)
    with pytest.raises(StorageError) as info:
        prepare(data_table(source), out, quiet=True)
    assert_one_line(info.value, out / "vocab.json", ERRNOS[code])
    assert list(out.iterdir()) == []


def test_a_failed_manifest_write_leaves_nothing(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    fail_atomic_writes(monkeypatch, errno.ENOSPC, "open", only="manifest.json")
    with pytest.raises(StorageError) as info:
        prepare(data_table(source), out, quiet=True)
    assert_one_line(info.value, out / "manifest.json", "no space left")
    assert list(out.iterdir()) == []


def test_an_unwritable_out_folder_is_one_line(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self: Path, *args: Any, **kwargs: Any) -> None:
        raise oserror(errno.EROFS, self)

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(StorageError) as info:
        prepare(data_table(source), tmp_path / "out", quiet=True)
    assert_one_line(info.value, tmp_path / "out", "read-only file system")


def test_a_full_disk_in_rnnkit_prepare_exits_with_one_line(
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fail_split_file(monkeypatch, "train.npy", errno.ENOSPC, 100)
    assert main(["prepare", str(source), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnkit: error: cannot write "), err
    assert "no space left" in err and "Traceback" not in err


def test_a_source_file_vanishing_mid_prepare_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text(TINY_TEXT, encoding="utf-8")
    (folder / "b.txt").write_text(TINY_TEXT, encoding="utf-8")
    real_parts = prepared._parts

    def listed_then_deleted(*args: Any) -> Any:
        parts = real_parts(*args)
        (folder / "b.txt").unlink()  # gone between the listing and its reading
        return parts

    monkeypatch.setattr(prepared, "_parts", listed_then_deleted)
    out = tmp_path / "out"
    with pytest.raises(StorageError) as info:
        prepare(data_table(folder), out, quiet=True)
    assert_one_line(info.value, folder / "b.txt", "vanished")
    assert list(out.iterdir()) == []


def test_a_read_error_mid_source_is_one_line(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 0:
                raise oserror(errno.EIO)
            return super().read(size)

    monkeypatch.setattr(prepared._Part, "open", lambda self: Broken(TINY_TEXT.encode()))
    with pytest.raises(StorageError, match=f"cannot read {source}: .*rror"):
        prepare(data_table(source), tmp_path / "out", quiet=True, chunk_bytes=256)


def test_unreadable_prepared_files_are_one_line(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    prepare(data_table(source), out, quiet=True)
    real = Path.read_text

    def denied(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == "manifest.json":
            raise oserror(errno.EACCES, self)
        return real(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(Path, "read_text", denied)
        with pytest.raises(StorageError) as info:
            load_prepared(out)
    assert_one_line(info.value, out / "manifest.json", "permission denied")
    (out / "val.npy").unlink()  # a split file vanished: refused, prepare again
    with pytest.raises(DataError, match="prepare"):
        load_prepared(out)


def test_an_unreadable_source_file_is_one_line(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self: Path) -> bytes:
        raise oserror(errno.EACCES, self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(StorageError) as info:
        read_text(source)
    assert_one_line(info.value, source, "permission denied")


@pytest.fixture
def fake_remote(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RemoteFile:
    """A downloadable source served from memory (no network), cached under tmp_path."""
    data = TINY_TEXT.encode()
    remote = RemoteFile(
        name="timemachine",
        description="tiny",
        filename="tiny-remote.txt",
        url="http://example.invalid/tiny.txt",
        sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
    )
    monkeypatch.setitem(sources.REMOTE, "timemachine", remote)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    monkeypatch.delenv("RNNKIT_OFFLINE", raising=False)
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda *a, **k: io.BytesIO(data))
    return remote


@pytest.mark.parametrize("code", list(ERRNOS))
def test_a_cache_that_cannot_be_written_is_one_line(
    fake_remote: RemoteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    fail_atomic_writes(monkeypatch, code, "write")
    with pytest.raises(StorageError) as info:
        read_text("timemachine")
    cached = tmp_path / "cache" / "rnnkit" / fake_remote.filename
    assert_one_line(info.value, cached, ERRNOS[code])
    assert "RNNKIT_DATA" in str(info.value)
    assert list(cached.parent.iterdir()) == []  # no temporary file


def test_a_download_is_cached_once_written(fake_remote: RemoteFile, tmp_path: Path) -> None:
    text, _ = read_text("timemachine")
    assert text == TINY_TEXT
    assert (tmp_path / "cache" / "rnnkit" / fake_remote.filename).read_text() == TINY_TEXT


# --- kills and real file systems (slow) ---------------------------------------------------


BIG = 10_000  # copies of TINY_TEXT in the big source: about 42 MB, half a second to prepare


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus large enough that `prepare` takes a while."""
    path = tmp_path_factory.mktemp("big") / "big.txt"
    path.write_text(TINY_TEXT * BIG, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_prepare_killed_at_seeded_moments(big_source: Path, tmp_path: Path, seed: int) -> None:
    """Whenever it is killed, the folder loads or is refused with "prepare ... again"."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "prepare", str(big_source), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    deadline = time.monotonic() + 120
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.Random(seed).uniform(0.0, 0.6))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        corpus = load_prepared(out)
    except DataError as exc:
        assert "again" in str(exc) and "\n" not in str(exc)
    else:
        assert len(corpus.train) + len(corpus.val) + len(corpus.test) == len(TINY_TEXT) * BIG
    # an unfinished folder is written again
    prepare(data_table(big_source), out, quiet=True, force=True)
    assert load_prepared(out).num_tokens == len(TINY_TEXT) * BIG


def _mount_tmpfs(mount: Path, size: str) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("tmpfs needs Linux")
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 300 KB tmpfs, or a skip saying why there is none."""
    mount = tmp_path / "tmpfs"
    _mount_tmpfs(mount, "300k")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


@pytest.mark.slow
def test_prepare_into_a_real_full_tmpfs(big_source: Path, small_tmpfs: Path) -> None:
    out = small_tmpfs / "out"
    with pytest.raises(StorageError, match="no space left on the device") as info:
        prepare(data_table(big_source), out, quiet=True)
    assert "\n" not in str(info.value)
    assert list(out.iterdir()) == []  # the space is given back
