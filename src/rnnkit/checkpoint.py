"""Checkpoints: one plain dict, written atomically, loaded with `weights_only=True`.

A checkpoint holds `format_version`, `task` ("lm" or "forecast"), the resolved `config`,
`model` (state_dict), `optimizer`, `scheduler`, `rng` (torch and data-generator states),
`vocab` (with counts) or `scaler`, `step`, `epoch` and `metrics`. Only tensors and Python
builtins, so nothing is unpickled but data.

Files are written through `rnnkit.storage.write_atomic`; torch is imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.errors import CheckpointError, StorageError
from rnnkit.storage import storage_errors, write_atomic

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1


def save_checkpoint(
    path: str | Path, payload: dict[str, Any], then: str | Callable[[], str] = ""
) -> Path:
    """Write `payload` (plus `format_version`) to `path` atomically (see `write_atomic`)."""
    import torch

    payload = {"format_version": FORMAT_VERSION, **payload}
    return write_atomic(path, lambda fh: torch.save(payload, fh), then)


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
        with storage_errors(file, "read"):
            ckpt = torch.load(file, map_location=map_location, weights_only=True)
    except StorageError:
        raise
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
