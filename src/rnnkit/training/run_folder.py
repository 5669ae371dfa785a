"""The run folder a training loop writes, and only rank 0 of a multi-process run.

    <run>/config.json     the resolved config
    <run>/metrics.jsonl   one JSON row per evaluation
    <run>/last.pt         the latest checkpoint (written atomically)
    <run>/best.pt         the checkpoint of the best validation loss
    <run>/curves.png      loss and perplexity against epoch
    <run>/samples.txt     text generated along the way

Every rank builds what is written (a checkpoint gathers the ranks' states), but every write
and every readable line is a no-op off rank 0, so a loop can call these methods on all ranks.

Every file goes through `write_atomic` (appends through `append_atomic`), so a full disk, a
read-only folder or a kill mid-write leaves the earlier files and lines as they were, and
the failure is one `StorageError` line naming the file and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.checkpoint import save_checkpoint
from rnnkit.errors import StorageError
from rnnkit.plots import plot_curves
from rnnkit.storage import append_atomic, storage_errors, write_atomic

if TYPE_CHECKING:
    from rnnkit.training.distributed import DistContext


class RunFolder:
    """Writes one run folder; every write is a no-op unless this process is rank 0.

    Args:
        path: the folder (created by `write_config`).
        ctx: the process's distributed context; only `ctx.is_main` writes.
        echo: where readable lines go on rank 0 (stdout by default).
        quiet: only the summary line goes there (`summary`); `echo` prints nothing.
    """

    def __init__(
        self,
        path: str | Path,
        ctx: DistContext,
        echo: Callable[[str], None] = print,
        quiet: bool = False,
    ) -> None:
        self.path = Path(path)
        self.is_main = ctx.is_main
        self._echo = echo
        self.quiet = quiet

    def write_config(self, text: str) -> None:
        """Create the folder and write `config.json` holding `text` (the config as JSON)."""
        if not self.is_main:
            return
        with storage_errors(self.path, "write"):
            self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path / "config.json", text + "\n", self._then)

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one row to `metrics.jsonl`."""
        if self.is_main:
            self._append("metrics.jsonl", [json.dumps(row)])

    def keep_metrics(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rewrite `metrics.jsonl` with just `rows` (a resume drops rows past its checkpoint)."""
        if self.is_main:
            text = "".join(json.dumps(row) + "\n" for row in rows)
            write_atomic(self.path / "metrics.jsonl", text, self._then)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of `metrics.jsonl` so far (empty without one); a read, so on every rank."""
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return []
        with storage_errors(path, "read"):
            lines = path.read_bytes().decode("utf-8", "replace").splitlines()
        rows = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise StorageError(
                    f"{path} line {number} is not a JSON row (the file was damaged); "
                    "delete that line and resume again"
                ) from None
        return rows

    def save_checkpoint(self, name: str, payload: dict[str, Any]) -> None:
        """Write `payload` to `<run>/<name>` atomically (see `rnnkit.checkpoint`)."""
        if self.is_main:
            save_checkpoint(self.path / name, payload, self._then)

    def plot(self, rows: Sequence[dict[str, Any]], title: str = "") -> None:
        """Draw `curves.png` from the metrics rows."""
        if self.is_main:
            plot_curves(rows, self.path / "curves.png", title=title, then=self._then)

    def append_samples(self, lines: Sequence[str]) -> None:
        """Append lines of generated samples (a line may hold line breaks) to `samples.txt`."""
        if self.is_main:
            self._append("samples.txt", lines)

    def echo(self, line: str) -> None:
        """Print a readable line (rank 0 alone prints; nothing when quiet)."""
        if self.is_main and not self.quiet:
            self._echo(line)

    def summary(self, line: str) -> None:
        """Print the run's closing line (rank 0 alone prints, quiet or not)."""
        if self.is_main:
            self._echo(line)

    def _append(self, name: str, lines: Sequence[str]) -> None:
        append_atomic(self.path / name, "\n".join(lines) + "\n", self._then)

    def _then(self) -> str:
        """The end of a write error: how to continue, once there is a checkpoint to resume."""
        if (self.path / "last.pt").is_file():
            return f"the files written so far are kept: continue with --resume {self.path}"
        return "the files written so far are kept"
