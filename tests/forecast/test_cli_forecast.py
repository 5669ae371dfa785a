"""`rnnkit forecast`: the run folder, the summary line, one-line errors, --checkpoint."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rnnkit.cli import main

FAST = [
    "--lookback",
    "8",
    "--horizon",
    "5",
    "--epochs",
    "2",
    "--hidden-size",
    "8",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--quiet",
]


def test_forecast_csv_run_folder(
    csv_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "forecast",
            str(csv_path),
            "--target",
            "sales",
            "--covariates",
            "price",
            "--seeds",
            "2",
            "--out",
            str(out),
            *FAST,
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    last = lines[-1]
    assert last.startswith("forecast ") and "naive MAE" in last and "seasonal naive" in last
    assert "80% interval coverage" in last and "±" in last and str(out) in last
    assert {p.name for p in out.iterdir()} >= {
        "forecast.csv",
        "forecast.png",
        "metrics.json",
        "best.pt",
        "last.pt",
        "config.json",
    }
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["model"]["mae"]["values"]) == 2
    assert set(metrics["seasonal_naive"]) == {"mae", "rmse", "smape", "mase"}
    rows = list(csv.DictReader((out / "forecast.csv").open()))
    assert len(rows) == 5 and {"sales_actual", "sales_forecast", "sales_lower"} <= set(rows[0])

    # Forecast past the end of the data with the saved model, without retraining.
    out2 = tmp_path / "future"
    assert main(["forecast", str(csv_path), "--checkpoint", str(out), "--out", str(out2)]) == 0
    assert "no retraining" in capsys.readouterr().out.strip().splitlines()[-1]
    future = list(csv.DictReader((out2 / "forecast.csv").open()))
    assert len(future) == 5 and future[0]["time"] == "+1"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("t,v\n1,1\n2,\n3,3\n", [], "missing values: 'v' at lines 3"),
        ("t,v\n1,1\n2,2\n", ["--target", "w"], "column 'w' is not in"),
        ("t,v,s\n1,1,a\n2,2,b\n", ["--target", "v", "s"], "column 's' is not numeric"),
        ("t,v\n" + "".join(f"{i},{i}\n" for i in range(10)), [], "needs at least"),
    ],
)
def test_bad_input_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, content: str, args: list, message: str
) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content, encoding="utf-8")
    code = main(["forecast", str(p), "--time-col", "t", *args, *FAST, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rnnkit: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_sine_preset_runs_fast(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            "forecast",
            "sine",
            "--max-steps",
            "30",
            "--threads",
            "1",
            "--quiet",
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "MSE" in last and "h=49" in last and "coverage n/a" in last


@pytest.mark.slow
def test_sunspots_default_beats_seasonal_naive(tmp_path: Path) -> None:
    pytest.importorskip("statsmodels")
    from rnnkit.forecast.backtest import run_forecast

    res = run_forecast("sunspots", out=str(tmp_path / "sun"), quiet=True, echo=lambda _: None)
    assert res["model"]["mae"]["mean"] < res["seasonal_naive"]["mae"]
