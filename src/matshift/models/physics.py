"""Physics-informed regressors: known signs of a property's dependence on named descriptors, imposed
on the model (``monotone``: ``{feature: +1 | -1}``), the rest learned from data.

- :class:`MonotonicCatBoost`: CatBoost with ``monotone_constraints`` (hard: every tree respects the sign).
- :class:`MonotonicPenaltyMLP`: the project's MLP backbone trained with a soft penalty on
  finite-difference slopes of the wrong sign (a physics-informed loss: the constraint holds where the
  training data are, it is not guaranteed elsewhere).

Features named in ``monotone`` but absent from ``X`` are ignored, so one configuration serves datasets
with and without, e.g., a test temperature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from matshift.models.mlp import (
    MLPNetwork,
    fit_standardisation,
    pickle_state,
    pointwise_loss,
    predict_network,
    seed_from,
    split_validation,
    standardise,
    unpickle_state,
)
from matshift.models.threads import torch_threads


def _signs(monotone: dict[str, int] | None, columns: list[str]) -> dict[str, int]:
    return {feature: int(sign) for feature, sign in (monotone or {}).items() if feature in columns}


class MonotonicCatBoost(RegressorMixin, BaseEstimator):
    """CatBoost whose prediction is monotone in each feature of ``monotone`` with the given sign."""

    def __init__(self, monotone: dict[str, int] | None = None, catboost_params: dict[str, Any] | None = None):
        self.monotone = monotone
        self.catboost_params = catboost_params

    def fit(self, X: pd.DataFrame, y: Any) -> MonotonicCatBoost:
        from catboost import CatBoostRegressor

        self.constraints_ = _signs(self.monotone, list(X.columns))
        params = {"thread_count": 2, "verbose": False, "allow_writing_files": False}
        params.update(self.catboost_params or {})
        # monotone constraints need the symmetric-tree grow policy, CatBoost's default
        self.model_ = CatBoostRegressor(**params, monotone_constraints=self.constraints_)
        self.model_.fit(X, np.asarray(y, dtype=float))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(X), dtype=float)


class MonotonicPenaltyMLP(RegressorMixin, BaseEstimator):
    """MLP whose loss adds ``penalty_weight`` x the mean wrong-signed finite-difference slope.

    For each constrained feature j with sign s, the slope (f(x + h e_j) - f(x)) / h is taken at every
    training row of a minibatch (h = ``step`` standard deviations of that feature); the penalty is
    mean(relu(-s * slope)), in target units per standard deviation. Both sides of the difference come
    from one forward pass without dropout (two independent dropout masks would make the slope mostly
    noise). The rest is the backbone's recipe: median imputation, standardisation, AdamW, early
    stopping on a validation fraction (whole groups when ``fit`` gets ``groups=``).
    ``n_threads``: torch threads while fitting (None: leave torch's setting).
    """

    def __init__(
        self,
        monotone: dict[str, int] | None = None,
        penalty_weight: float = 1.0,
        step: float = 0.25,
        hidden_layers: tuple[int, ...] = (64, 32),
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 100,
        batch_size: int = 64,
        loss: str = "l1",
        validation_fraction: float = 0.15,
        patience: int | None = 15,
        random_state: int = 0,
        n_threads: int | None = 1,
    ):
        self.monotone = monotone
        self.penalty_weight = penalty_weight
        self.step = step
        self.hidden_layers = hidden_layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.loss = loss
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.n_threads = n_threads

    def __getstate__(self) -> dict[str, Any]:
        return pickle_state(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        unpickle_state(self, state)

    def _penalty(self, network: MLPNetwork, x: torch.Tensor) -> torch.Tensor:
        """Mean wrong-signed slope, with gradients, from a forward pass in eval mode (no dropout)."""
        if not self.constraints_index_:
            return torch.zeros(())
        was_training = network.training
        network.eval()
        try:
            shifted = []
            for column, _ in self.constraints_index_:
                moved = x.clone()
                moved[:, column] += self.step
                shifted.append(moved)
            outputs = network(torch.cat([x, *shifted])).split(len(x))
        finally:
            network.train(was_training)
        base = outputs[0]
        total = torch.zeros(())
        for (_, sign), moved_output in zip(self.constraints_index_, outputs[1:], strict=True):
            total = total + torch.relu(-sign * (moved_output - base) / self.step).mean()
        return total

    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None) -> MonotonicPenaltyMLP:
        """``groups``: each row's leakage key (composition, condition...); early stopping holds out
        whole groups, as the splits do."""
        # a small network on a few hundred rows: one thread is faster than many competing ones
        with torch_threads(self.n_threads):
            return self._fit(X, y, groups)

    def _fit(self, X: pd.DataFrame, y: Any, groups: Any) -> MonotonicPenaltyMLP:
        columns = list(X.columns)
        self.constraints_ = _signs(self.monotone, columns)
        self.constraints_index_ = [(columns.index(f), s) for f, s in self.constraints_.items()]
        values = np.asarray(X, dtype=float)
        target = np.asarray(y, dtype=float)
        self.imputer_, self.mean_, self.scale_ = fit_standardisation(values)
        # the target is standardised too, so one penalty weight suits HV and MPa alike
        self.y_mean_, self.y_scale_ = float(target.mean()), float(target.std() or 1.0)
        seed = seed_from(self.random_state)
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        x_all = standardise(values, self.imputer_, self.mean_, self.scale_)
        y_all = torch.from_numpy(((target - self.y_mean_) / self.y_scale_).astype(np.float32))
        train_rows, val_rows = split_validation(
            len(values), self.validation_fraction, np.random.default_rng(seed), groups
        )
        network = MLPNetwork(x_all.shape[1], self.hidden_layers, self.dropout)
        optimiser = torch.optim.AdamW(
            network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        best = (np.inf, None)
        stale = 0
        x_train, y_train = x_all[train_rows], y_all[train_rows]
        for _ in range(self.epochs):
            network.train()
            for batch in torch.randperm(len(x_train), generator=generator).split(self.batch_size):
                xb, yb = x_train[batch], y_train[batch]
                prediction = network(xb)
                loss = pointwise_loss(self.loss, prediction, yb).mean()
                if self.penalty_weight:
                    loss = loss + self.penalty_weight * self._penalty(network, xb)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            if val_rows is not None:
                val_prediction = torch.from_numpy(predict_network(network, x_all[val_rows])).float()
                val_loss = float(pointwise_loss(self.loss, val_prediction, y_all[val_rows]).mean())
                if val_loss < best[0]:
                    best, stale = (val_loss, {k: v.clone() for k, v in network.state_dict().items()}), 0
                else:
                    stale += 1
                    if self.patience is not None and stale >= self.patience:
                        break
        if best[1] is not None:
            network.load_state_dict(best[1])
        self.network_ = network.eval()
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "network_")
        x = standardise(np.asarray(X, dtype=float), self.imputer_, self.mean_, self.scale_)
        return predict_network(self.network_, x) * self.y_scale_ + self.y_mean_
