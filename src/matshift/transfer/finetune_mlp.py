"""Fine-tuning a source-domain (DFT) MLP on the target domain (experiment) with a freezing schedule."""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from matshift.models.mlp import (
    LOSSES,
    MLPNetwork,
    MLPRegressor,
    pickle_state,
    predict_network,
    seed_from,
    split_validation,
    standardise,
    train_network,
    unpickle_state,
)


class FineTunedMLP(RegressorMixin, BaseEstimator):
    """A pretrained :class:`~matshift.models.mlp.MLPRegressor` adapted to a new domain.

    ``fit`` works on a deep copy of the pretrained network (the pretrained model is never mutated)
    and keeps the pretrained imputation medians and standardisation: the inputs are scaled exactly as
    in the source domain, so the pretrained features mean the same thing. Then the freezing schedule:

    1. **Head only** (``head_epochs`` at ``head_learning_rate``): the feature extractor is frozen
       (``requires_grad=False`` and left out of the optimiser) and only the linear head trains. The
       target domain first re-maps the output (experimental gaps are a shifted / stretched version of
       DFT gaps) without the large early gradients of a mis-fit head disturbing the pretrained features.
    2. **Everything** (``full_epochs`` at ``full_learning_rate``, by default 10x lower): all layers
       are unfrozen and adapt gently, so the few target rows refine rather than overwrite what the
       tens of thousands of source rows taught.

    Both stages use AdamW with ``weight_decay``, minibatches of ``batch_size``, and early stopping on
    the same random ``validation_fraction`` of the fine-tuning rows, whole compositions when ``fit``
    gets ``groups=`` (after ``patience`` epochs without improvement; the best weights of the stage are
    restored). Those rows are never trained on.

    ``pretrained`` is a fitted ``MLPRegressor`` or the path of a file written by
    ``MLPRegressor.save``. ``clone`` keeps it as is (a plain scikit-learn clone would replace it by an
    unfitted copy and lose the source-domain weights).

    Attributes: ``network_``, ``imputer_``, ``mean_``, ``scale_``, ``n_features_in_``,
    ``feature_names_in_`` (when fitted on a DataFrame) and ``history_`` (one dict per epoch with
    ``stage`` = ``"head"`` or ``"full"``, ``epoch``, ``train_loss``, ``val_loss``).
    """

    def __init__(
        self,
        pretrained: MLPRegressor | str | os.PathLike | None = None,
        head_epochs: int = 20,
        head_learning_rate: float = 1e-3,
        full_epochs: int = 40,
        full_learning_rate: float = 1e-4,
        weight_decay: float = 1e-4,
        batch_size: int = 128,
        loss: str = "l1",
        validation_fraction: float = 0.15,
        patience: int | None = 8,
        random_state: int | np.random.RandomState | None = 0,
    ):
        self.pretrained = pretrained
        self.head_epochs = head_epochs
        self.head_learning_rate = head_learning_rate
        self.full_epochs = full_epochs
        self.full_learning_rate = full_learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.loss = loss
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    def _pretrained_model(self) -> MLPRegressor:
        if self.pretrained is None:
            raise ValueError(
                "FineTunedMLP needs pretrained=: a fitted MLPRegressor or the path of a file written by "
                "MLPRegressor.save"
            )
        if isinstance(self.pretrained, str | os.PathLike):
            return MLPRegressor.load(self.pretrained)
        if not isinstance(self.pretrained, MLPRegressor):
            raise TypeError(
                f"pretrained must be an MLPRegressor or a path, not {type(self.pretrained).__name__}"
            )
        if not hasattr(self.pretrained, "network_"):
            raise ValueError(
                "pretrained MLPRegressor is not fitted (was it passed through sklearn.base.clone, which "
                "drops fitted weights?)"
            )
        return self.pretrained

    def fit(
        self, X: pd.DataFrame | np.ndarray, y: pd.Series | np.ndarray, groups: Any = None
    ) -> FineTunedMLP:
        """``groups``: each row's composition; the early-stopping rows are whole compositions."""
        source = self._pretrained_model()
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        X_arr, y_arr = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True, reset=True
        )
        if self.n_features_in_ != source.n_features_in_:
            raise ValueError(
                f"X has {self.n_features_in_} features; the pretrained model expects {source.n_features_in_}"
            )
        source_names = getattr(source, "feature_names_in_", None)
        own_names = getattr(self, "feature_names_in_", None)
        if source_names is not None and own_names is not None and not np.array_equal(source_names, own_names):
            raise ValueError(
                "X's columns differ from (or are ordered unlike) the pretrained model's features"
            )

        # the source-domain preprocessing, copied so neither model can change the other's
        self.imputer_ = source.imputer_.copy()
        self.mean_ = source.mean_.copy()
        self.scale_ = source.scale_.copy()
        X_tensor = standardise(X_arr, self.imputer_, self.mean_, self.scale_)
        y_tensor = torch.from_numpy(y_arr.astype(np.float32))

        seed = seed_from(self.random_state)
        train_rows, val_rows = split_validation(
            len(y_arr), self.validation_fraction, np.random.default_rng(seed), groups
        )
        train_index = torch.from_numpy(train_rows)
        validation = None
        if val_rows is not None:
            val_index = torch.from_numpy(val_rows)
            validation = (X_tensor[val_index], y_tensor[val_index])
        common = {
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
            "loss": self.loss,
            "validation": validation,
            "patience": self.patience,
        }

        # fork_rng: reproducible dropout without resetting the caller's global torch RNG
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
            network: MLPNetwork = copy.deepcopy(source.network_)

            # stage 1: frozen extractor. requires_grad=False also skips its backward pass (cheaper).
            network.feature_extractor.requires_grad_(False)
            head_history = train_network(
                network,
                X_tensor[train_index],
                y_tensor[train_index],
                epochs=int(self.head_epochs),
                lr=self.head_learning_rate,
                parameters=network.head.parameters(),
                generator=generator,
                **common,
            )
            # stage 2: everything, at the lower rate
            network.requires_grad_(True)
            full_history = train_network(
                network,
                X_tensor[train_index],
                y_tensor[train_index],
                epochs=int(self.full_epochs),
                lr=self.full_learning_rate,
                generator=generator,
                **common,
            )

        self.network_ = network.eval()
        self.history_ = [{"stage": "head", **record} for record in head_history] + [
            {"stage": "full", **record} for record in full_history
        ]
        return self

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "network_")
        X_arr = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        return predict_network(self.network_, standardise(X_arr, self.imputer_, self.mean_, self.scale_))

    def __sklearn_clone__(self) -> FineTunedMLP:
        # the pretrained model is read-only here, so the clone may share it; cloning it would unfit it
        params = self.get_params(deep=False)
        return type(self)(
            **{
                name: value if name == "pretrained" else clone(value, safe=False)
                for name, value in params.items()
            }
        )

    def __getstate__(self) -> dict[str, Any]:
        return pickle_state(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        unpickle_state(self, state)
