"""Checkpoints: one plain dict, written atomically, loaded with `weights_only=True`.

A checkpoint holds `format_version`, `task` ("lm" or "forecast"), the resolved `config`,
`model` (state_dict), `optimizer`, `scheduler`, `rng` (torch and data-generator states),
`vocab` (with counts) or `scaler`, `step`, `epoch` and `metrics`. Only tensors and Python
builtins, so nothing is unpickled but data.

`write_atomic` is the one atomic file writer of the package (checkpoints, downloaded
sources, prepared corpora). torch is imported on first use, so that the text modules can
write atomically without loading it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rnnkit.errors import CheckpointError

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1


def write_atomic(path: str | Path, data: bytes | str | Callable[[IO[bytes]], object]) -> Path:
    """Write `data` to `path` so that a crash never leaves a half-written file under that name.

    `data` is bytes, text (written as UTF-8) or a function that writes to the open binary
    file. It goes to a temporary file in the same folder (created if missing), which is
    synced to disk and then renamed over `path` with `os.replace`. On any failure the
    temporary file is removed and `path` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write `payload` (plus `format_version`) to `path` atomically (see `write_atomic`)."""
    import torch

    payload = {"format_version": FORMAT_VERSION, **payload}
    return write_atomic(path, lambda fh: torch.save(payload, fh))


def resolve_checkpoint_path(path: str | Path, prefer: str = "best") -> Path:
    """A run folder gives `best.pt` (or `last.pt` without one; `prefer="last"` for
    `--resume`); a file path is used as given."""
    path = Path(path)
    if path.is_dir():
        order = ["last.pt"] if prefer == "last" else ["best.pt", "last.pt"]
        for name in order:
            if (path / name).is_file():
                return path / name
        raise CheckpointError(
            f"run folder {path} holds no {' or '.join(order)}; pass a run folder written by "
            "`rnnkit train` or a checkpoint file"
        )
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass a run folder or a .pt file")
    return path


def load_checkpoint(
    path: str | Path, prefer: str = "best", map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint dict (run folder or file), checking its format version."""
    import torch

    file = resolve_checkpoint_path(path, prefer)
    try:
        ckpt = torch.load(file, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {file}: {first}") from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise CheckpointError(f"{file} is not an rnnkit checkpoint (no format_version)")
    if ckpt["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{file} has checkpoint format {ckpt['format_version']}, this rnnkit reads "
            f"format {FORMAT_VERSION}; use the rnnkit version that wrote it"
        )
    return ckpt
