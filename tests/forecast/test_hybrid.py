"""The ES-RNN hybrid: the smoothing's hand-carried derivatives against autograd, the module's
shapes, and fit / predict / save / load through `Forecaster` for `esrnn`, `es` and `auto`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from rnnkit.config import ForecastConfig
from rnnkit.errors import ConfigError
from rnnkit.forecast.forecaster import Forecaster
from rnnkit.forecast.hybrid import HybridForecaster, OriginForecaster, Smoothing, origin_windows
from rnnkit.forecast.series import Series


def _loop(z: Tensor, coef: Tensor, init: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The smoothing written as a plain autograd loop (the reference)."""
    alpha, beta, gamma, phi, b = coef
    m = len(init)
    seas = list(init) if m else [torch.zeros((), dtype=z.dtype)] * len(z)
    lev = z[0] - seas[0]
    levels, trends = [], []
    for t in range(len(z)):
        pred = lev + phi * b
        new = pred + alpha * (z[t] - seas[t] - pred)
        b = phi * b + beta * (new - lev - phi * b)
        lev = new
        levels.append(lev)
        trends.append(b)
        if m:
            seas.append(gamma * (z[t] - lev) + (1 - gamma) * seas[t])
    return torch.stack(levels), torch.stack(trends), torch.stack(seas)


@pytest.mark.parametrize("season", [0, 4])
def test_smoothing_values_and_gradients_match_autograd(season: int) -> None:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(30, dtype=torch.float64, generator=gen)
    coef = torch.tensor([0.3, 0.2, 0.25, 0.9, 0.1], dtype=torch.float64, requires_grad=True)
    init = torch.randn(season, dtype=torch.float64, generator=gen).requires_grad_()
    got, want = Smoothing.apply(z, coef, init), _loop(z, coef, init)
    weights = [torch.randn(o.shape, dtype=torch.float64, generator=gen) for o in want]
    params = [coef, init] if season else [coef]

    def weighted(outs: tuple[Tensor, ...]) -> Tensor:
        return sum((o * w).sum() for o, w in zip(outs, weights, strict=True))  # type: ignore[return-value]

    g_got = torch.autograd.grad(weighted(got), params)
    g_want = torch.autograd.grad(weighted(want), params)
    for a, b in zip((*got, *g_got), (*want, *g_want), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_hybrid_shapes_and_the_smoothing_alone_is_flat_plus_season() -> None:
    z = torch.sin(torch.arange(40.0) * 2 * torch.pi / 4)
    origins = torch.tensor([10, 20, 40])
    full = HybridForecaster(season=4, lookback=8, horizon=6, trend=True)
    mean, scale = full(z, origins)
    assert mean.shape == scale.shape == (3, 6) and bool((scale > 0).all())
    alone = HybridForecaster(season=4, lookback=8, horizon=6, use_network=False)
    mean, _ = alone(z, origins)
    # no trend, no network: step h repeats step h - 4
    torch.testing.assert_close(mean[:, 4:], mean[:, :2])


def test_origin_windows_mask_what_is_not_known() -> None:
    z = np.arange(10.0)
    x, y, known = origin_windows(z, 2, 6, 3, (0, 6))
    assert x[:, 0, 0].tolist() == [2, 3, 4, 5]
    assert known[:, :, 0].tolist() == [[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 0, 0]]
    assert y[0, :, 0].tolist() == [2, 3, 4] and np.isnan(y[3, 1, 0])


def _seasonal_series(n: int = 72) -> Series:
    """A positive monthly series with a trend and a swing that grows with the level."""
    t = np.arange(n)
    rng = np.random.default_rng(0)
    y = (50 + t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 1, n)
    times = [f"{2000 + i // 12}-{1 + i % 12:02d}-01" for i in t]
    return Series("shop", times, y[:, None], ["y"], np.zeros((n, 0)))


def _config(method: str, **series: object) -> ForecastConfig:
    cfg = ForecastConfig()
    cfg.series.method = method  # type: ignore[assignment]
    cfg.series.horizon = 12
    for key, value in series.items():
        setattr(cfg.series, key, value)
    cfg.model.hidden_size = 8
    cfg.train.epochs = 4
    cfg.train.threads = 1
    return cfg


@pytest.mark.parametrize("method", ["esrnn", "es"])
def test_hybrid_fits_predicts_and_round_trips(method: str, tmp_path: Path) -> None:
    series = _seasonal_series()
    fc = Forecaster(_config(method)).fit(series)
    assert fc.config.series.log == "yes" and fc.season == 12  # chosen from the series
    pred = fc.predict(12)
    assert pred.mean.shape == (12, 1) and np.isfinite(pred.mean).all()
    assert (pred.lower <= pred.mean).all() and (pred.mean <= pred.upper).all()
    assert (pred.lower > 0).all()  # a logged series' band stays positive
    back = Forecaster.load(fc.save(tmp_path / "run"))
    np.testing.assert_allclose(back.predict(12, series=series).mean, pred.mean, rtol=1e-6)
    with pytest.raises(ConfigError, match="at most 12 steps"):
        back.predict(13, series=series)


def test_auto_fits_the_best_candidate_on_the_origins(tiny: Callable[..., ForecastConfig]) -> None:
    fc = Forecaster(_config("auto")).fit(_seasonal_series())
    scores = fc.train_info["candidates"]  # what fits before the earliest of 3 origins
    assert fc.config.series.origins == 3 and {"esrnn", "es"} <= set(scores)
    assert fc.config.series.method == min(scores, key=scores.get)
    assert fc.train_info["auto"].startswith("auto: season 12")


def test_hybrid_refuses_covariates() -> None:
    series = _seasonal_series()
    series = Series("s", series.time, series.target, ["y"], np.ones((72, 1)), ["c"])
    with pytest.raises(ConfigError, match="one target"):
        Forecaster(_config("esrnn")).fit(series)


def test_origin_forecaster_checks_its_horizon() -> None:
    model = OriginForecaster(HybridForecaster(season=0, lookback=4, horizon=3), np.zeros(8))
    with pytest.raises(ConfigError, match="at most 3 steps"):
        model.check_horizon(4)
