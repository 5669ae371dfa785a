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
    "--set",
    "series.references=none",  # the ETS / ARIMA references: tests/forecast/test_references.py
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
    assert len(future) == 5 and future[0]["time"] == "2020-03-01"  # the next day


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("t,v\n1,1\n2,\n3,3\n", [], "missing values: 'v' at lines 3"),
        ("t,v\n1,1\n2,2\n", ["--target", "w"], "column 'w' is not in"),
        ("t,v,s\n1,1,a\n2,2,b\n", ["--target", "v", "s"], "column 's' is not numeric"),
        ("t,v\n" + "".join(f"{i},{i}\n" for i in range(10)), [], "needs at least"),
        (  # a horizon longer than the series: one line, not a reshape traceback
            "t,v\n" + "".join(f"{i},{i % 7}\n" for i in range(300)),
            ["--set", "series.horizon=100000"],  # --set wins over FAST's --horizon
            "has 0 points of history",
        ),
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
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1  # --quiet: the summary line alone
    last = out[-1]
    assert "MSE" in last and "h=49" in last and "coverage n/a" in last
    assert "| ETS(" in last and "| ARIMA(" in last  # the references, fit on the same split


@pytest.mark.slow
def test_sunspots_default_beats_seasonal_naive(tmp_path: Path) -> None:
    pytest.importorskip("statsmodels")
    from rnnkit.forecast.backtest import run_forecast

    res = run_forecast("sunspots", out=str(tmp_path / "sun"), quiet=True, echo=lambda _: None)
    assert res["model"]["mae"]["mean"] < res["seasonal_naive"]["mae"]


def _printed_config(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["forecast", *args, "--print-config"]) == 0
    return json.loads(capsys.readouterr().out)


def test_print_config_layers_flags_then_set(capsys: pytest.CaptureFixture) -> None:
    cfg = _printed_config(capsys, "sunspots", "--set", "series.horizon=30")
    assert cfg["preset"] == "forecast-sunspots" and cfg["series"]["source"] == "sunspots"
    assert (cfg["series"]["lookback"], cfg["series"]["horizon"]) == (20, 30)
    assert set(cfg) == {"series", "model", "train", "preset", "recipe", "recipe_note", "pinned"}
    assert (cfg["recipe"], cfg["recipe_note"]) == ("auto", "")  # chosen when the run starts
    # the preset's keys and --set's are pinned; the preset's unset season is left to choose
    keys = ["horizon", "log", "lookback", "method", "transform"]
    assert cfg["pinned"] == [f"series.{k}" for k in keys]
    assert set(cfg["model"]) == {"kind", "impl", "hidden_size", "num_layers", "dropout"}
    # the same order as rnnkit train: the flags, then --set (which wins)
    cfg = _printed_config(
        capsys, "sunspots", "--set", "series.horizon=30", "--horizon", "7", "--kind", "gru"
    )
    assert (cfg["series"]["horizon"], cfg["model"]["kind"]) == (30, "gru")
    cfg = _printed_config(capsys, "sunspots", "--horizon", "7")
    assert cfg["series"]["horizon"] == 7
    cfg = _printed_config(capsys, "my.csv", "--target", "a", "b", "--time-col", "t")
    assert cfg["series"]["target"] == ["a", "b"] and cfg["series"]["time_col"] == "t"


def test_builtin_source_brings_its_preset_unless_preset_or_config(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sine = _printed_config(capsys, "sine")
    assert sine["preset"] == "forecast-sine" and sine["model"]["kind"] == "rnn"
    assert sine["train"]["max_steps"] == 6000
    other = _printed_config(capsys, "sine", "--preset", "forecast-sunspots")
    assert other["preset"] == "forecast-sunspots" and other["series"]["lookback"] == 20
    assert other["model"]["kind"] == "lstm" and other["series"]["source"] == "sine"
    file = tmp_path / "f.toml"
    file.write_text('[series]\nhorizon = 12\n[model]\nkind = "gru"\n', encoding="utf-8")
    mine = _printed_config(capsys, "sine", "--config", str(file))
    assert mine["preset"] == "" and mine["series"]["lookback"] == 0  # the generic defaults
    assert (mine["series"]["horizon"], mine["model"]["kind"]) == (12, "gru")
    assert _printed_config(capsys, "data.csv")["preset"] == ""


def test_config_file_drives_the_fit(
    csv_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    file = tmp_path / "fast.toml"
    file.write_text(
        'task = "forecast"\n[series]\nlookback = 8\nhorizon = 4\ntarget = ["sales"]\n'
        'strategy = "direct"\nreferences = "none"\n[model]\nkind = "gru"\nhidden_size = 6\n'
        '[train]\nepochs = 2\nthreads = 1\ndevice = "cpu"\n',
        encoding="utf-8",
    )
    out = tmp_path / "run"
    assert (
        main(["forecast", str(csv_path), "--config", str(file), "--quiet", "--out", str(out)]) == 0
    )
    assert "h=4" in capsys.readouterr().out.strip().splitlines()[-1]
    saved = json.loads((out / "config.json").read_text())
    assert saved["series"]["target"] == ["sales"] and saved["model"]["kind"] == "gru"
    rows = list(csv.DictReader((out / "forecast.csv").open()))
    assert len(rows) == 4 and "sales_forecast" in rows[0] and "visits_forecast" not in rows[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "timemachine"], "preset 'timemachine' is a language-model config"),
        (
            ["--set", "model.embedding_dim=8"],
            "unknown config key model.embedding_dim; valid keys: model.kind, model.impl, "
            "model.hidden_size, model.num_layers, model.dropout",
        ),
        (["--set", "series.scaler=robust"], "series.scaler = 'robust' is not valid"),
        (["--set", "series.horizon=-1"], "series.horizon must be an integer in [0, inf), got -1"),
        (["--preset", "nope"], "unknown preset 'nope'"),
    ],
)
def test_config_errors_one_line_exit_2(
    capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    assert main(["forecast", "sunspots", *args, "--print-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_lm_keys_in_a_forecast_config_file_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    file = tmp_path / "old.toml"
    file.write_text("[model]\nhidden_size = 8\ntie_weights = true\n", encoding="utf-8")
    assert main(["forecast", "sine", "--config", str(file), "--print-config"]) == 2
    assert "unknown config key model.tie_weights; valid keys: model.kind" in capsys.readouterr().err


def test_checkpoint_keeps_its_horizon_on_a_builtin_source(tmp_path: Path) -> None:
    out = tmp_path / "fit"
    fit = ["sine", "--max-steps", "5", "--horizon", "10", "--threads", "1", "--quiet"]
    assert main(["forecast", *fit, "--out", str(out)]) == 0
    # the sine preset's horizon (49) must not replace the checkpoint's (10)
    future = tmp_path / "future"
    assert main(["forecast", "sine", "--checkpoint", str(out), "--out", str(future)]) == 0
    assert len(list(csv.DictReader((future / "forecast.csv").open()))) == 10
    again = tmp_path / "again"
    args = ["sine", "--checkpoint", str(out), "--horizon", "3", "--out", str(again)]
    assert main(["forecast", *args]) == 0
    assert len(list(csv.DictReader((again / "forecast.csv").open()))) == 3


@pytest.mark.parametrize(
    ("given", "named"),
    [(["--horizon", "70"], "--horizon"), (["--set", "series.horizon=70"], "series.horizon")],
)
def test_an_error_names_the_key_as_the_user_gave_it(
    csv_path: Path, capsys: pytest.CaptureFixture, given: list[str], named: str
) -> None:
    """The library names `series.horizon`; the CLI spells it `--horizon` when typed so."""
    assert main(["forecast", str(csv_path), "--lookback", "8", "--quiet", *given]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error: ") and "\n" not in err
    assert f"set {named} to 50 or less" in err  # the longest horizon 60 points allow
