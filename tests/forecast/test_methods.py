"""The forecasting methods behind `Forecaster` (`rnnkit.forecast.methods`): which class a
config picks, the data each prepares, the model each builds, and that nothing one fit
prepares is kept on the method."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from rnnkit.config import ForecastConfig
from rnnkit.errors import ConfigError
from rnnkit.forecast.hybrid import OriginForecaster
from rnnkit.forecast.methods import (
    HYBRID_MAX_BATCH,
    HybridMethod,
    RnnMethod,
    method_for,
)
from rnnkit.forecast.model import window_pairs
from rnnkit.forecast.series import Series, plan_sizes
from rnnkit.forecast.transforms import SeriesEncoder, series_values

CPU = torch.device("cpu")


def _encoded(cfg: ForecastConfig, n: int = 60) -> tuple[np.ndarray, SeriesEncoder, dict]:
    """A seasonal series' raw values, the method's encoder and the fit's sizes."""
    t = np.arange(n)
    series = Series.from_array(10 + np.sin(t / 2) + 0.05 * t)
    sizes = plan_sizes(cfg.series, n, 1)
    method = method_for(cfg)
    method.check(series, sizes)
    raw = series_values(series)
    enc = SeriesEncoder.fit(raw, 1, sizes["lookback"], method.transform, "standard")
    dims = {**sizes, "input_size": 1, "n_targets": 1, "season": 0}
    return raw, enc, dims


def test_method_for_picks_the_class(tiny: Callable[..., ForecastConfig]) -> None:
    assert isinstance(method_for(tiny(method="rnn")), RnnMethod)
    for name in ("esrnn", "es"):
        method = method_for(tiny(method=name))
        assert isinstance(method, HybridMethod) and method.name == name
        assert method.transform == "none"
    with pytest.raises(ConfigError, match="names no single method"):
        method_for(tiny(method="auto"))


@pytest.mark.parametrize("strategy", ["direct", "autoregressive"])
def test_rnn_prepare_splits_at_n_fit(tiny: Callable[..., ForecastConfig], strategy: str) -> None:
    cfg = tiny(strategy=strategy)
    raw, enc, dims = _encoded(cfg)
    n_fit = len(raw) - dims["val_size"]
    data = RnnMethod(cfg).prepare(raw, enc, dims, n_fit)
    H = dims["horizon"]
    assert (data.windows.origin[data.pairs[0].shape[0] - 1] + H - 1) < n_fit
    assert data.unseen.any() and data.unseen.shape == (len(data.val_idx), H)
    win = enc.windows(raw, H)
    want = window_pairs(strategy, win.x, win.future, 1)
    assert all(np.array_equal(a, b) for a, b in zip(data.all_pairs, want, strict=True))
    model = RnnMethod(cfg).build(dims, CPU, data)
    got = model.training_pairs(win.x, win.future)
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_hybrid_builds_on_the_data_it_is_given(tiny: Callable[..., ForecastConfig]) -> None:
    cfg = tiny(method="es")
    raw, enc, dims = _encoded(cfg)
    method = HybridMethod(cfg)
    data = method.prepare(raw, enc, dims, len(raw) - dims["val_size"])
    assert data.z is not None and data.z.shape == (len(raw),)
    fitted = method.build(dims, CPU, data)
    bare = method.build(dims, CPU)  # as `Forecaster.load` builds it: series set at predict
    assert isinstance(fitted, OriginForecaster) and isinstance(bare, OriginForecaster)
    assert fitted.z.shape == (len(raw),) and bare.z.shape == (0,)
    assert not hasattr(method, "z")  # nothing of one fit is kept on the method
    win = method.last_window(bare, enc, Series.from_array(raw[:, 0]), dims["lookback"])
    assert bare.z.shape == (len(raw),) and int(win.origin[0]) == len(raw)


def test_hybrid_batching_caps_the_batch(tiny: Callable[..., ForecastConfig]) -> None:
    cfg = tiny(method="esrnn")
    series_cfg, train_cfg = HybridMethod(cfg).batching(10_000)
    assert series_cfg.batch_size == HYBRID_MAX_BATCH and train_cfg is cfg.train
    rnn_cfg = tiny()
    series_cfg, train_cfg = RnnMethod(rnn_cfg).batching(10_000)
    assert series_cfg is rnn_cfg.series and train_cfg is rnn_cfg.train


def test_window_pairs_rejects_an_unknown_strategy() -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'sideways'"):
        window_pairs("sideways", np.zeros((1, 2, 1)), np.zeros((1, 1, 1)), 1)
