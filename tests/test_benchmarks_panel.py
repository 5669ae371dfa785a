"""benchmarks/forecast_panel.py without training: the CSV builder and the panel scores."""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "forecast_panel.py"


def _panel() -> ModuleType:
    """The script as a module (benchmarks/ is not on the test path); imported once."""
    name = "_bench_forecast_panel"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_builder_writes_time_value_csvs(tmp_path: Path) -> None:
    pytest.importorskip("statsmodels")
    panel = _panel()
    paths = panel.build_panel(tmp_path, ["nile", "realgdp", "short"])
    nile, gdp, short = (_rows(paths[n]) for n in ("nile", "realgdp", "short"))
    assert nile[0] == ["time", "value"]
    assert len(nile) == 1 + 100 and nile[1] == ["1871", "1120"] and nile[-1][0] == "1970"
    assert len(gdp) == 1 + 203
    assert [r[0] for r in gdp[1:4]] == ["1959-01-01", "1959-04-01", "1959-07-01"]
    assert len(short) == 1 + 48 and short[-1][0] == "2001-12-01"
    assert all(math.isfinite(float(r[1])) for r in short[1:])


def test_scores_fall_back_to_naive_and_pool_coverage() -> None:
    panel = _panel()

    def run(name: str, metrics: dict | None, horizon: int) -> object:
        r = panel.RunResult(name, 100, horizon, [], 1.0, metrics, None if metrics else "boom")
        if metrics:
            r.row = panel.score_row(r)
        return r

    yearly = {
        "season": 1,
        "horizon": 10,
        "model": {"mae": {"mean": 2.0, "values": [2.0]}},
        "naive": {"mae": 3.0},
        "seasonal_naive": {"mae": 1.0},
        "coverage80": {"values": [1.0]},
        "references": {"ets": {"mae": 4.0}, "arima": {"mae": 2.0}},
    }
    monthly = {
        "season": 12,
        "horizon": 30,
        "model": {"mae": {"mean": 2.0}},
        "naive": {"mae": 1.0},
        "seasonal_naive": {"mae": 1.5},
        "coverage80": {"values": [0.5, 0.7]},
        "references": {"ets": {"mae": 1.0}},
    }
    rs = [run("a", yearly, 10), run("b", monthly, 30), run("c", None, 5)]
    assert rs[0].row["baseline"] == "naive" and rs[0].row["beats_baseline"] is True
    assert rs[1].row["baseline"] == "seasonal_naive" and rs[1].row["beats_baseline"] is False
    s = panel.summarise(rs)
    assert s["failed"] == ["c"] and s["beats_seasonal_naive"] == 1
    assert s["geomean_rnnkit_over_ets"] == pytest.approx(1.0)  # sqrt(0.5 * 2)
    assert s["geomean_arima_over_ets"] == pytest.approx(0.5)
    assert s["pooled_coverage80"] == pytest.approx((10 * 1.0 + 30 * 0.5 + 30 * 0.7) / 70)
