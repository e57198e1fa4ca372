"""Prediction intervals and out-of-distribution flags: conformal methods, ensembles, metrics."""
