"""Forecasting: series, transforms and windows, the recurrent forecasters, naive baselines,
the training loop, the `Forecaster` estimator and the `rnnkit forecast` command's backtest."""
