"""Model space: scalers, windows, differencing and the `SeriesEncoder` round trip."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import wave_values
from rnnkit.forecast.transforms import Scaler, SeriesEncoder, difference, sliding_windows


def test_scaler_uses_training_part_only() -> None:
    values = np.arange(10.0).reshape(-1, 1)
    sc = Scaler.fit(values[:5], "standard")
    assert sc.offset == [2.0]
    z = sc.transform(values)
    assert np.allclose(sc.inverse(z), values)
    mm = Scaler.fit(values[:5], "minmax")
    assert mm.transform(values[:5]).min() == 0 and mm.transform(values[:5]).max() == 1
    assert Scaler.fit(np.ones((4, 1)), "standard").scale == [1.0]  # constant column


def test_sliding_windows() -> None:
    v = np.arange(12.0).reshape(6, 2)
    w = sliding_windows(v, 4)
    assert w.shape == (3, 4, 2)
    assert np.array_equal(w[1], v[1:5])


def test_difference_keeps_covariates_as_levels() -> None:
    v = np.array([[1.0, 10.0], [3.0, 20.0], [6.0, 30.0]])
    assert difference(v, 1, diff=False) is v
    assert difference(v, 1, diff=True).tolist() == [[2.0, 20.0], [3.0, 30.0]]


@pytest.mark.parametrize("transform", ["none", "diff", "window"])
def test_encoder_round_trip(transform: str) -> None:
    raw = np.concatenate([wave_values(40, 2), np.linspace(0, 1, 40)[:, None]], axis=1)
    enc = SeriesEncoder.fit(raw, n_targets=2, lookback=6, transform=transform, scaler="standard")
    win = enc.windows(raw, 4)
    shift = 1 if transform == "diff" else 0
    assert win.x.shape == (40 - shift - 10 + 1, 6, 3) and win.future.shape[1:] == (4, 3)
    assert win.y.shape == (len(win.x), 4, 2) and win.origin[0] == 6 + shift
    truth = raw[win.origin[:, None] + np.arange(4)][..., :2]  # (M, 4, 2)
    assert np.allclose(enc.decode(win.y, win.offset, win.last), truth)
    last = enc.last_window(raw)
    assert last.x.shape == (1, 6, 3)
    assert np.allclose(last.x[0, :, 2], enc.scaler.transform(raw[-6:, 2], slice(2, 3)))
