"""The forecaster modules' shapes and the Forecaster API: fit, predict with intervals, save,
load, and the caller's process state left as found."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import wave_values
from rnnkit.checkpoint import save_checkpoint
from rnnkit.config import ForecastConfig, ForecastModelConfig, forecast_config
from rnnkit.errors import RnnkitError
from rnnkit.forecast.baselines import naive_forecast
from rnnkit.forecast.forecaster import Forecaster
from rnnkit.forecast.model import (
    AutoregressiveForecaster,
    DirectForecaster,
    build_forecaster,
)
from rnnkit.forecast.series import Series, read_csv


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_direct_shapes(kind: str) -> None:
    core = ForecastModelConfig(kind=kind, hidden_size=5)
    m = DirectForecaster(input_size=3, n_targets=2, horizon=4, core=core)
    mean, scale, state = m(torch.randn(6, 7, 3))
    assert mean.shape == (6, 4, 2) and scale is not None and scale.shape == (6, 4, 2)
    assert (scale > 0).all()
    h = state[0] if isinstance(state, tuple) else state
    assert h.shape == (1, 6, 5)
    mean3, scale3, paths = m.forecast(torch.randn(6, 7, 3), 3)
    assert mean3.shape == (6, 3, 2) and scale3 is not None and paths is None


def test_autoregressive_shapes_and_rollout() -> None:
    core = ForecastModelConfig(kind="gru", hidden_size=5)
    m = AutoregressiveForecaster(input_size=3, n_targets=1, core=core)
    mean, scale, _ = m(torch.randn(2, 7, 3))
    assert mean.shape == (2, 7, 3) and scale is not None and scale.shape == (2, 7, 3)
    gen = torch.Generator().manual_seed(0)
    point, paths = m.rollout(torch.randn(2, 7, 3), 6, samples=10, generator=gen)
    assert point.shape == (2, 6, 3) and paths is not None and paths.shape == (10, 2, 6, 3)
    mean_c, scale_c, paths_c = m.forecast(torch.randn(2, 7, 3), 6, samples=10, generator=gen)
    assert mean_c.shape == (2, 6, 1) and scale_c is None
    assert paths_c is not None and paths_c.shape == (10, 2, 6, 1)


def test_rollout_point_path_feeds_back_the_mean() -> None:
    torch.manual_seed(0)
    core = ForecastModelConfig(kind="rnn", hidden_size=4)
    m = AutoregressiveForecaster(input_size=1, n_targets=1, core=core, likelihood="mse")
    x = torch.randn(1, 5, 1)
    point, paths = m.rollout(x, 3)
    assert paths is None
    mean, _, state = m(x)
    nxt = mean[:, -1:]
    manual = [nxt]
    for _ in range(2):
        nxt, _, state = m(nxt, state)
        manual.append(nxt)
    assert torch.allclose(point, torch.cat(manual, 1))


def test_training_pairs() -> None:
    x, future = np.zeros((4, 6, 3)), np.ones((4, 2, 3))
    core = ForecastModelConfig(hidden_size=4)
    d = DirectForecaster(input_size=3, n_targets=2, horizon=2, core=core)
    dx, dy = d.training_pairs(x, future)
    assert dx.shape == (4, 6, 3) and dy.shape == (4, 2, 2)
    a = AutoregressiveForecaster(input_size=3, n_targets=2, core=core)
    ax, ay = a.training_pairs(x, future)
    assert ax.shape == ay.shape == (4, 7, 3)
    assert np.array_equal(ay[:, :-1], ax[:, 1:])  # the target is the input shifted by one


def test_build_forecaster_picks_the_class() -> None:
    core = ForecastModelConfig(hidden_size=4)
    common = {"input_size": 2, "n_targets": 1, "horizon": 3, "core": core, "skip_lookback": 2}
    direct = build_forecaster("direct", **common)
    auto = build_forecaster("autoregressive", **common)
    assert isinstance(direct, DirectForecaster) and isinstance(auto, AutoregressiveForecaster)
    assert any(k.startswith("skip.") for k in direct.state_dict())
    assert not any(k.startswith("skip.") for k in auto.state_dict())  # no skip term
    with pytest.raises(RnnkitError, match="unknown strategy 'sideways'"):
        build_forecaster("sideways", **common)
    with pytest.raises(RnnkitError, match="at most 3 steps"):
        direct.check_horizon(4)
    auto.check_horizon(1000)


def test_seed_init_and_skip() -> None:
    m = DirectForecaster(
        input_size=1,
        n_targets=1,
        horizon=3,
        core=ForecastModelConfig(kind="rnn", hidden_size=16),
        likelihood="mse",
        init_std=0.001,
    )
    assert all(p.abs().max() < 0.01 for p in m.parameters())
    core = ForecastModelConfig(hidden_size=4)
    s = DirectForecaster(input_size=1, n_targets=1, horizon=3, core=core, skip_lookback=2)
    assert s(torch.randn(2, 5, 1))[0].shape == (2, 3, 1)


def _wave(n: int = 80, channels: int = 1) -> Series:
    values = wave_values(n, channels)
    return Series("wave", [], values, [f"y{c}" for c in range(channels)], np.zeros((n, 0)))


@pytest.mark.parametrize(
    "settings",
    [
        {"strategy": "direct"},
        {"strategy": "autoregressive"},
        {"strategy": "direct", "transform": "diff"},
        {"strategy": "autoregressive", "transform": "window"},
        {"strategy": "direct", "likelihood": "mse", "scaler": "minmax"},
    ],
)
def test_fit_predict_intervals(settings: dict, tiny: Callable[..., ForecastConfig]) -> None:
    f = Forecaster(tiny(**settings)).fit(_wave())
    out = f.predict()
    assert out.mean.shape == (5, 1) and np.isfinite(out.mean).all()
    if settings.get("likelihood") == "mse":
        assert np.isnan(out.lower).all()
    else:
        assert (out.lower <= out.mean + 1e-9).all() and (out.mean <= out.upper + 1e-9).all()
        assert f.calibration > 0
    assert f.train_info["refit"] and f.train_info["best_epoch"] >= 1


def test_multivariate_with_covariates(csv_path: Path, tiny: Callable[..., ForecastConfig]) -> None:
    data = read_csv(csv_path, covariates=["price"])
    for strategy in ("direct", "autoregressive"):
        f = Forecaster(tiny(strategy=strategy)).fit(data.head(55))
        out = f.predict(5)
        assert out.mean.shape == (5, 2) and out.target_names == ["sales", "visits"]
    with pytest.raises(RnnkitError, match="fit on targets"):
        f.predict(3, series=_wave())


def test_save_load_same_forecast(tmp_path: Path, tiny: Callable[..., ForecastConfig]) -> None:
    series = _wave()
    f = Forecaster(tiny(strategy="autoregressive", transform="diff")).fit(series)
    f.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"best.pt", "last.pt"}
    ckpt = torch.load(tmp_path / "best.pt", weights_only=True)
    assert ckpt["task"] == "forecast" and ckpt["format_version"] == 1
    g = Forecaster.load(tmp_path)
    a, b = f.predict(7), g.predict(7, series=series)  # autoregressive: any horizon
    assert np.allclose(a.mean, b.mean) and np.allclose(a.upper, b.upper)
    with pytest.raises(RnnkitError, match="no history"):
        g.predict(3)


def test_direct_horizon_limit_and_short_series(tiny: Callable[..., ForecastConfig]) -> None:
    f = Forecaster(tiny(strategy="direct")).fit(_wave())
    with pytest.raises(RnnkitError, match="at most 5 steps"):
        f.predict(6)
    with pytest.raises(RnnkitError, match=r"has 12 points but training .* needs at least 15"):
        Forecaster(tiny()).fit(_wave(12))
    with pytest.raises(RnnkitError, match="not fitted"):
        Forecaster(tiny()).predict(3)


def test_same_seed_same_forecast(tiny: Callable[..., ForecastConfig]) -> None:
    a = Forecaster(tiny()).fit(_wave()).predict()
    b = Forecaster(tiny()).fit(_wave()).predict()
    assert np.array_equal(a.mean, b.mean)


def test_config_errors() -> None:
    with pytest.raises(RnnkitError, match=r"unknown config key series\.colour"):
        forecast_config("sine", series={"colour": 1})
    with pytest.raises(RnnkitError, match=r"model.kind = 'tcn' is not valid"):
        forecast_config("sine", model={"kind": "tcn"})
    cfg = forecast_config("sine")
    assert cfg.model.kind == "rnn" and cfg.model.hidden_size == 16
    assert cfg.series.lookback + cfg.series.horizon == 50 and cfg.train.max_steps == 6000


def test_beats_naive_on_a_noiseless_sine() -> None:
    t = np.arange(120)
    values = np.sin(2 * np.pi * t / 12)  # period 12
    history, truth = Series.from_array(values[:-12]), values[-12:, None]
    cfg = forecast_config(
        "",
        series={"lookback": 12, "horizon": 12, "strategy": "direct", "refit": False},
        model={"kind": "gru", "hidden_size": 16},
        train={"epochs": 10, "lr": 0.01, "threads": 1, "device": "cpu"},
    )
    pred = Forecaster(cfg).fit(history).predict(12)
    model_mae = np.abs(pred.mean - truth).mean()
    naive_mae = np.abs(naive_forecast(history.target, 12) - truth).mean()
    assert model_mae < 0.5 * naive_mae


def test_fit_leaves_the_callers_process_as_found(tiny: Callable[..., ForecastConfig]) -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(3)  # the config asks for 1
        random.seed(123)
        np.random.seed(123)
        torch.manual_seed(123)
        py, npy, pt = random.getstate(), np.random.get_state(), torch.get_rng_state()
        Forecaster(tiny()).fit(_wave())
        assert torch.get_num_threads() == 3
        assert random.getstate() == py
        after = np.random.get_state()
        assert after[0] == npy[0] and np.array_equal(after[1], npy[1]) and after[2:] == npy[2:]
        assert torch.equal(torch.get_rng_state(), pt)
    finally:
        torch.set_num_threads(threads)


def test_forecaster_without_config_uses_the_generic_defaults() -> None:
    f = Forecaster()
    assert f.config == ForecastConfig() and f.config.preset == ""
    assert (f.config.model.kind, f.config.model.hidden_size) == ("lstm", 32)
    assert (f.config.series.lookback, f.config.series.horizon) == (0, 0)
    assert (f.config.train.epochs, f.config.train.max_steps) == (150, 0)


def test_checkpoint_with_legacy_model_keys_loads(
    tmp_path: Path, tiny: Callable[..., ForecastConfig]
) -> None:
    f = Forecaster(tiny()).fit(_wave())
    ckpt = f.checkpoint("best")
    ckpt["config"]["model"].update(embedding_dim=0, input_mode="embedding", tie_weights=False)
    with pytest.raises(RnnkitError, match=r"unknown config key model\.embedding_dim"):
        ForecastConfig.from_dict(ckpt["config"])  # a new config may not set them
    save_checkpoint(tmp_path / "old.pt", ckpt)
    g = Forecaster.load(tmp_path / "old.pt")
    assert g.config == f.config
    assert np.array_equal(g.predict(5, series=_wave()).mean, f.predict(5).mean)


def test_carried_state_survives_a_short_last_batch(tiny: Callable[..., ForecastConfig]) -> None:
    """With `carry_state`, a batch count that does not divide the windows leaves a short last
    batch; its state is not carried into the next epoch's full first batch."""
    cfg = tiny(carry_state=True, batch_size=16)
    series = Series("wave", [], wave_values(), ["y0"], np.zeros((80, 0)))
    pred = Forecaster(cfg).fit(series).predict(5)
    assert np.isfinite(pred.mean).all()
