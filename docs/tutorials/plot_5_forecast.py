"""
5. Forecasting: a sine wave, then a real series
===============================================

A recurrent network can regress numbers as well as predict tokens. The ``forecast-sine``
preset is PyTorch's sine-wave tutorial: ``nn.RNN(1, 16)`` reads one value per step, is
trained to predict the next one (teacher forcing), and then forecasts 49 steps by feeding
each prediction back in as the next input. A real series follows, with the classical
references that every ``rnnkit forecast`` run fits beside the network.

Budget: 2,000 of the preset's 6,000 optimizer steps for the sine (about 12 s), 30 epochs
for the CO2 series plus its two references (about 25 s), at two threads.
"""

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from rnnkit.cli import main as rnnkit_cli


def forecast(*args: str) -> Path:
    """Run ``rnnkit forecast ARGS`` in this process; return its run folder."""
    out = Path(tempfile.mkdtemp(prefix="rnnkit-forecast-"))
    rnnkit_cli(["forecast", *args, "--threads", "2", "--quiet", "--out", str(out)])
    return out


def show(png: Path) -> None:
    """Draw a picture the run wrote (forecast.png) as a figure of this page."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.imshow(plt.imread(png))
    ax.set_axis_off()
    fig.tight_layout()


# %%
# The sine wave, each prediction fed back
# ---------------------------------------
# ``rnnkit forecast sine`` uses the preset; ``--max-steps`` shortens the training. With the
# tutorial's lookback of 1 the network sees a single point, which cannot tell a rising sine
# from a falling one: its state, carried from step to step, has to remember the direction.

sine = forecast("sine", "--max-steps", "2000", "--set", "series.references=none")
metrics = json.loads((sine / "metrics.json").read_text())
model = metrics["model"]
print(f"test MSE {model['mse']['mean']:.3f}, MAE {model['mae']['mean']:.3f}")
print(f"naive MAE {metrics['naive']['mae']:.3f}")
print(f"seasonal naive MAE {metrics['seasonal_naive']['mae']:.3f}")
show(sine / "forecast.png")

# %%
# A pure sine repeats itself exactly, so the seasonal naive forecast (the last period
# again) is hard to beat; the point here is the rollout, 49 steps from the network's own
# predictions. With ``--lookback 10`` the network sees the direction in its input and the
# error drops by an order of magnitude (the :doc:`forecasting guide </guide/forecasting>`
# has the full preset's figures).
#
# The config the preset resolves to, the same as ``rnnkit forecast sine --print-config``:

config = json.loads((sine / "config.json").read_text())
print({key: config["series"][key] for key in ("lookback", "horizon", "strategy", "carry_state")})

# %%
# A real series with references beside it
# ---------------------------------------
# Monthly CO2 at Mauna Loa (statsmodels' data, no network), the last 60 months held out.
# Beside the network, the run fits automatic ETS and ARIMA once on the same history and
# scores them the same way; the dashed lines in the picture are theirs.

co2 = forecast("co2", "--epochs", "30")
metrics = json.loads((co2 / "metrics.json").read_text())
print(f"rnnkit (30 epochs) MAE {metrics['model']['mae']['mean']:.3f}")
print(f"seasonal naive MAE {metrics['seasonal_naive']['mae']:.3f}")
for name, ref in metrics["references"].items():
    print(f"{name}: {ref['spec']} MAE {ref['mae']:.3f} (fit {ref['fit_s']:.1f} s)")
show(co2 / "forecast.png")

# %%
# Thirty epochs is a fifth of the preset's training; the numbers of full runs over three
# seeds, and of the automatic choice between the network, the smoothing hybrids and the
# references on nine series, are in the :doc:`forecasting guide </guide/forecasting>`.
