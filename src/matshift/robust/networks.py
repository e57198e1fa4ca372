"""What the hand-written PyTorch robust methods (DANN, Group DRO) share: inputs as tensors, seeding."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from matshift.models.mlp import fit_standardisation, predict_network, seed_from, standardise


class TorchRegressorMixin:
    """``_prepare`` learns the standardisation and returns tensors; ``predict`` applies ``network_``."""

    def _prepare(self, X: Any, y: Any) -> tuple[torch.Tensor, np.ndarray]:
        X_arr, y_arr = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True, reset=True
        )
        self.imputer_, self.mean_, self.scale_ = fit_standardisation(X_arr)
        return standardise(X_arr, self.imputer_, self.mean_, self.scale_), y_arr

    def _seed(self) -> int:
        return seed_from(self.random_state)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        X_arr = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        return predict_network(self.network_, standardise(X_arr, self.imputer_, self.mean_, self.scale_))


class EarlyStopping:
    """Keeps the best weights seen on a validation loss; says when ``patience`` epochs brought nothing."""

    def __init__(self, patience: int | None):
        self.patience = patience
        self.best = np.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.since_best = 0

    def should_stop(self, loss: float | None, network: torch.nn.Module) -> bool:
        if loss is None:
            return False
        if loss < self.best:
            self.best, self.since_best = loss, 0
            self.best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            self.since_best += 1
        return self.patience is not None and self.since_best >= self.patience

    def restore(self, network: torch.nn.Module) -> torch.nn.Module:
        if self.best_state is not None:
            network.load_state_dict(self.best_state)
        return network.eval()
