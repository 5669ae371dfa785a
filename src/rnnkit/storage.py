"""Every file rnnkit writes: `write_atomic` (temporary file, fsync, `os.replace`) and
`append_atomic` built on it; `storage_errors`, the one place an `OSError` (no space, no
permission, read-only, a file gone) becomes a one-line `StorageError` naming the path and
the fix. Imports no torch, so the text modules can write atomically without loading it.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Literal

from rnnkit.errors import StorageError

_WHY: dict[int, tuple[str, str, str]] = {  # errno: (what happened, fix on write, on read)
    errno.ENOSPC: (
        "no space left on the device",
        "free some space or write to another folder",
        "free some space and try again",
    ),
    errno.EDQUOT: (
        "disk quota exceeded",
        "free some space or write to another folder",
        "free some space and try again",
    ),
    errno.EACCES: (
        "permission denied",
        "make the folder writable or write to another folder",
        "make it readable (chmod) or use another copy",
    ),
    errno.EPERM: (
        "operation not permitted",
        "make the folder writable or write to another folder",
        "make it readable (chmod) or use another copy",
    ),
    errno.EROFS: (
        "read-only file system",
        "write to a folder on a writable file system",
        "use a copy on a readable file system",
    ),
    errno.ENOENT: (
        "it vanished (deleted or moved while in use)",
        "keep the folder in place while rnnkit runs and try again",
        "keep it in place while rnnkit runs, restore it and try again",
    ),
}


def storage_message(
    path: str | Path, exc: OSError, action: Literal["read", "write"] = "write", then: str = ""
) -> str:
    """One line naming `path`, what went wrong (from `exc.errno`), the fix and `then` (what to
    do once fixed, e.g. how to continue)."""
    what, on_write, on_read = _WHY.get(
        exc.errno or 0,
        (exc.strerror or str(exc) or type(exc).__name__, "check the disk and the folder", ""),
    )
    fix = (on_read if action == "read" else on_write) or "check the disk and the file"
    line = f"cannot {action} {path}: {what}; {fix}" + (f"; {then}" if then else "")
    return " ".join(line.split())


@contextmanager
def storage_errors(
    path: str | Path,
    action: Literal["read", "write"] = "write",
    then: str | Callable[[], str] = "",
) -> Iterator[None]:
    """Turn an `OSError` raised inside the block into a `StorageError` about `path`; `then`
    (or its value, computed when the error happens) ends the message."""
    try:
        yield
    except OSError as exc:
        after = then() if callable(then) else then
        raise StorageError(storage_message(path, exc, action, after)) from exc


@functools.cache
def _default_mode() -> int:
    """The mode a new file gets under this process's umask (read once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


class _RecordingFile(io.FileIO):
    """A file that remembers the `OSError` of a failed write: `torch.save` reports one as a
    `RuntimeError` of its own, which would hide the "no space left" behind it."""

    error: OSError | None = None

    def write(self, data: Any, /) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            self.error = exc
            raise


def write_atomic(
    path: str | Path,
    data: bytes | str | Callable[[IO[bytes]], object],
    then: str | Callable[[], str] = "",
) -> Path:
    """Write `data` to `path` so that a crash never leaves a half-written file under that name.

    `data` is bytes, text (written as UTF-8) or a function that writes to the open binary
    file. It goes to a temporary file in the same folder (created if missing), which is
    synced to disk and then renamed over `path` with `os.replace`; the file keeps the mode of
    the one it replaces (a new one gets the umask's). On any failure the temporary file is
    removed and `path` keeps its old content; an `OSError` (no space, no permission,
    read-only) is raised as a one-line `StorageError` naming `path` (see `storage_errors`).
    """
    path = Path(path)
    with storage_errors(path, "write", then):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = _default_mode()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            raw = _RecordingFile(fd, "w")
            with io.BufferedWriter(raw) as fh:
                try:
                    if callable(data):
                        data(fh)
                    else:
                        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
                except Exception as exc:
                    if raw.error is not None and not isinstance(exc, OSError):
                        raise raw.error from exc
                    raise
                fh.flush()
                os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
    return path


def append_atomic(path: str | Path, text: str, then: str | Callable[[], str] = "") -> Path:
    """Append `text` (UTF-8) to `path` by rewriting it through `write_atomic`: a failed or
    killed append leaves the earlier lines exactly as they were. For small files (logs)."""
    path = Path(path)
    with storage_errors(path, "read", then):
        try:
            old = path.read_bytes()
        except FileNotFoundError:
            old = b""
    if old and not old.endswith(b"\n"):
        old += b"\n"  # never run a new line into an unterminated last one
    return write_atomic(path, old + text.encode("utf-8"), then)
