"""Many series in one file: reading panels, the global model, the run folder, one-line
errors and forecasting past the end from a saved panel run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.errors import DataError
from rnnkit.forecast.global_model import Coefs, smooth_panel
from rnnkit.forecast.hybrid import smooth
from rnnkit.forecast.panel import (
    detect_id_col,
    is_panel_csv,
    keep_long_enough,
    read_long,
    read_wide,
)

FAST = [
    "--threads", "1", "--hidden-size", "8", "--quiet",
    "--set", "series.references=none", "--set", "train.max_steps=15",
]  # fmt: skip


def _month(k: int) -> str:
    return f"{2000 + k // 12}-{k % 12 + 1:02d}"


def _values(i: int, n: int) -> np.ndarray:
    t = np.arange(n)
    return 50 + 5 * i + 8 * np.sin(2 * np.pi * t / 12 + i) + 0.1 * t


def _long_csv(path: Path, lengths: list[int], id_name: str = "unique_id") -> Path:
    """A long panel: series s0, s1, ... of the given lengths, monthly, ending together."""
    end = max(lengths)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([id_name, "date", "sales"])
        for i, n in enumerate(lengths):
            for k, v in enumerate(_values(i, n)):
                w.writerow([f"s{i}", _month(end - n + k), f"{v:.4f}"])
    return path


def test_long_csv_groups_by_the_detected_id(tmp_path: Path) -> None:
    path = _long_csv(tmp_path / "p.csv", [40, 30, 5])
    assert is_panel_csv(str(path)) and detect_id_col(["Series_ID", "x"]) == "Series_ID"
    panel = read_long(path)
    assert panel.ids == ["s0", "s1", "s2"] and [len(s) for s in panel.series] == [40, 30, 5]
    assert panel.series[1].time[0] == _month(10)
    kept = keep_long_enough(panel, 20)
    assert kept.ids == ["s0", "s1"] and "5 points" in kept.skipped["s2"]
    with pytest.raises(DataError, match="no series of p has the 50 points"):
        keep_long_enough(panel, 50)


def test_a_csv_without_an_id_column_stays_one_series(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("date,sales\n2000-01,1\n2000-02,2\n", encoding="utf-8")
    assert not is_panel_csv(str(path)) and is_panel_csv(str(path), many=True)


def test_wide_csv_series_may_start_late(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    rows = ["quarter,a,b"] + [
        f"{2000 + k // 4}Q{k % 4 + 1},{k + 1},{'' if k < 3 else k * 2}" for k in range(12)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    panel = read_wide(path)
    assert panel.ids == ["a", "b"] and [len(s) for s in panel.series] == [12, 9]
    assert panel.series[1].time[0] == "2000Q4"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["id,date,v", "a,2000-01,1", "a,2000-02,2", "b,2000-01,3"], "series 'b' has 1 point"),
        (
            ["id,date,v", "a,2000-01,1", "a,2000-02,2", "b,2000-01,1", "b,2000-04,2"],
            "series 'a' steps",
        ),
        (
            ["id,date,v", "a,2000-01,1", "a,2000-02,2", "a,2000-02,3"],
            "repeats time '2000-02' at lines 3 and 4",
        ),
    ],
)
def test_bad_panels_end_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, rows: list[str], message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code = main(["forecast", str(path), *FAST, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rnnkit: error:") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_none_long_enough_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _long_csv(tmp_path / "short.csv", [8, 9])
    code = main(["forecast", str(path), *FAST, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "no series of short" in err and len(err.strip().splitlines()) == 1


def test_panel_smoothing_is_the_hybrids_per_series() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 30))
    alpha, gamma = np.array([0.2, 0.5, 0.9]), np.array([0.1, 0.3, 0.05])
    init = rng.normal(size=(3, 4))
    logit = lambda p: torch.tensor(np.log(p / (1 - p)))  # noqa: E731
    coefs = Coefs(logit(alpha), logit(gamma), torch.tensor(init))
    level, seas = smooth_panel(torch.tensor(z), coefs)
    for i in range(3):
        lv, _, ss, _ = smooth(list(z[i]), [alpha[i], 0.0, gamma[i], 0.0, 0.0], list(init[i]))
        np.testing.assert_allclose(level[i].numpy(), lv, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(seas[i].numpy(), ss, rtol=1e-9, atol=1e-9)


def test_panel_run_folder_and_checkpoint_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = _long_csv(tmp_path / "shop.csv", [72, 60, 66, 70, 12])
    out = tmp_path / "run"
    assert main(["forecast", str(path), *FAST, "--out", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("forecast ") and "4 series h=12 (1 skipped)" in last and str(out) in last
    assert {p.name for p in out.iterdir()} >= {
        "config.json", "metrics.json", "forecast.csv", "global.pt", "panel.png", "mase.png"
    }  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(metrics["per_series"]) == ["s0", "s1", "s2", "s3"] and "s4" in metrics["skipped"]
    one = metrics["per_series"]["s0"]
    assert {"model", "coverage80", "naive", "seasonal_naive", "global", "choice"} <= set(one)
    assert set(metrics["aggregate"]["references"]) == {"naive", "seasonal_naive"}
    assert {"mase", "smape"} <= set(metrics["aggregate"]["model"])
    with (out / "forecast.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 * 12 and np.isfinite(float(rows[0]["lower"]))

    extra = tmp_path / "more.csv"  # the same series and a new one, a month longer
    _long_csv(extra, [73, 61, 67, 71, 12, 50])
    past = tmp_path / "past"
    assert main(["forecast", str(extra), "--checkpoint", str(out), "--out", str(past)]) == 0
    assert "(1 new)" in capsys.readouterr().out
    with (past / "forecast.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["id"] for r in rows} == {"s0", "s1", "s2", "s3", "s5"}  # s4: too short
    assert rows[0]["time"] == _month(73) and all(np.isfinite(float(r["forecast"])) for r in rows)


def test_wide_panel_with_many(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "wide.csv"
    lines = ["month," + ",".join(f"c{i}" for i in range(3))]
    values = [_values(i, 60) for i in range(3)]
    lines += [_month(k) + "," + ",".join(f"{v[k]:.3f}" for v in values) for k in range(60)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["forecast", str(path), "--many", *FAST, "--out", str(tmp_path / "r")]) == 0
    assert "3 series h=12" in capsys.readouterr().out
