"""I/O faults in a forecast run folder: one `StorageError` line, earlier files kept, no
temporary file, for each of `config.json`, `last.pt`, `best.pt`, `metrics.json`,
`forecast.csv` and `forecast.png`."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import rnnkit.storage as storage
from rnnkit.cli import main
from rnnkit.config import forecast_config
from rnnkit.errors import StorageError
from rnnkit.forecast.backtest import Backtest, _hold_out, backtest, write_forecast_run
from rnnkit.forecast.series import Series, infer_season, load_series

ERRNOS = {
    errno.ENOSPC: "no space left",
    errno.EACCES: "permission denied",
    errno.EROFS: "read-only file system",
}
FILES = ("last.pt", "best.pt", "metrics.json", "forecast.csv", "forecast.png")


def inject(monkeypatch: pytest.MonkeyPatch, code: int, stage: str, name: str) -> None:
    """`write_atomic` fails with `code` for the file `name`: when creating its temporary file
    (`open`) or on the first write to it (`write`, after the temporary file exists)."""
    targets: dict[int, str] = {}

    def mkstemp(prefix: str, suffix: str, dir: Path) -> tuple[int, str]:
        if stage == "open" and prefix == f".{name}.":
            raise OSError(code, os.strerror(code))
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dir)
        targets[fd] = prefix[1:-1]
        return fd, tmp

    real_write = storage._RecordingFile.write

    def write(self: Any, data: Any) -> int | None:
        if stage == "write" and targets.get(self.fileno()) == name:
            raise OSError(code, os.strerror(code))
        return real_write(self, data)

    monkeypatch.setattr(storage, "tempfile", SimpleNamespace(mkstemp=mkstemp))
    monkeypatch.setattr(storage._RecordingFile, "write", write)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def fitted() -> tuple[Backtest, Series, Series]:
    """One tiny fit on the sine series: the backtest, its history and its test part."""
    cfg = forecast_config(
        "",
        series={"lookback": 8, "horizon": 5, "batch_size": 16, "source": "sine"},
        model={"hidden_size": 8},
        train={"epochs": 2, "threads": 1, "device": "cpu"},
    )
    data = load_series("sine", None, "", None, cfg.series.fill)
    history, test = _hold_out(cfg, data)
    season = cfg.series.season or data.season or infer_season(history.target)
    cfg.series.season = season
    return backtest(cfg, history, test, season, 1, True, lambda _: None), history, test


@pytest.fixture(scope="module")
def written(
    fitted: tuple[Backtest, Series, Series], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    run = tmp_path_factory.mktemp("template") / "run"
    run.mkdir()
    write_forecast_run(run, *fitted)
    return run


CASES = [(name, errno.ENOSPC, "write") for name in FILES] + [
    ("best.pt", errno.EACCES, "open"),
    ("forecast.csv", errno.EROFS, "open"),
    ("forecast.png", errno.EACCES, "write"),
    ("metrics.json", errno.EROFS, "write"),
]


@pytest.mark.parametrize(("name", "code", "stage"), CASES)
def test_a_failed_forecast_write_is_one_line_and_loses_nothing(
    fitted: tuple[Backtest, Series, Series],
    written: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    code: int,
    stage: str,
) -> None:
    run = tmp_path / "run"
    shutil.copytree(written, run)
    before = snapshot(run)
    inject(monkeypatch, code, stage, name)
    with pytest.raises(StorageError) as info:
        write_forecast_run(run, *fitted)
    message = str(info.value)
    assert "\n" not in message and str(run / name) in message and ERRNOS[code] in message
    after = snapshot(run)
    assert after.keys() == before.keys()  # no temporary file
    assert after[name] == before[name]  # the file that failed keeps its old content


def test_a_full_disk_in_rnnkit_forecast_exits_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    inject(monkeypatch, errno.ENOSPC, "write", "config.json")
    argv = ["forecast", "sine", "--out", str(run), "--quiet", "--set", "train.epochs=1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnkit: error: cannot write "), err
    assert str(run / "config.json") in err and "Traceback" not in err
    assert list(run.iterdir()) == []
