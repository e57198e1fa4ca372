"""A PyTorch multilayer perceptron behind the scikit-learn estimator contract.

The network is split into a ``feature_extractor`` and a ``head`` because the transfer and robust
methods reuse it: fine-tuning freezes the extractor and re-fits the head first, DANN attaches a
domain classifier (through a gradient-reversal layer) to ``MLPNetwork.features``. The training loop
lives once, in :func:`train_network`, and every one of those methods calls it.

Fitted models travel two ways:

- ``pickle`` (Kedro's ``PickleDataset``): the network is pickled as its configuration and a state
  dict of numpy arrays, never as a torch module, so the pickle does not depend on torch internals;
- :meth:`MLPRegressor.save` / :meth:`MLPRegressor.load`: a ``torch.save`` file holding only tensors,
  numbers, strings and containers of them, which ``torch.load(weights_only=True)`` reads without
  executing any pickled code (fine-tuning loads the pretrained backbone from ``data/06_models/``).
"""

from __future__ import annotations

import copy
import numbers
import os
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from torch import nn

LOSSES = ("l1", "l2", "huber")
# Predictions are made in chunks so a full Materials Project table never needs all activations at once.
_PREDICT_CHUNK = 16_384
_SAVE_FORMAT = "matshift.MLPRegressor"
_SAVE_VERSION = 1


class MLPNetwork(nn.Module):
    """``feature_extractor`` (Linear -> SiLU -> Dropout per hidden layer) followed by a linear ``head``."""

    def __init__(self, n_features: int, hidden_layers: Iterable[int] = (256, 128, 64), dropout: float = 0.1):
        super().__init__()
        self.n_features = int(n_features)
        self.hidden_layers = tuple(int(width) for width in hidden_layers)
        self.dropout = float(dropout)
        blocks: list[nn.Module] = []
        width = self.n_features
        for out_width in self.hidden_layers:
            blocks += [nn.Linear(width, out_width), nn.SiLU(), nn.Dropout(self.dropout)]
            width = out_width
        self.feature_extractor = nn.Sequential(*blocks)
        self.head = nn.Linear(width, 1)

    @property
    def n_latent(self) -> int:
        """Width of :meth:`features`, what a domain classifier or a new head plugs into."""
        return self.hidden_layers[-1] if self.hidden_layers else self.n_features

    def config(self) -> dict[str, Any]:
        """Constructor arguments, enough with a state dict to rebuild the network."""
        return {"n_features": self.n_features, "hidden_layers": self.hidden_layers, "dropout": self.dropout}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_extractor(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)


def pointwise_loss(name: str, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if name == "l1":
        return torch.abs(prediction - target)
    if name == "l2":
        return (prediction - target) ** 2
    if name == "huber":
        # delta of 1 eV: errors below it are squared, the rare large band-gap misses stay linear
        return nn.functional.huber_loss(prediction, target, reduction="none", delta=1.0)
    raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum()


def _evaluate(
    network: nn.Module, X: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None, loss: str
) -> float:
    network.eval()
    with torch.no_grad():
        prediction = torch.cat([network(chunk) for chunk in torch.split(X, _PREDICT_CHUNK)])
        return float(_weighted_mean(pointwise_loss(loss, prediction, y), weight))


def train_network(
    network: nn.Module,
    X_tensor: torch.Tensor,
    y_tensor: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    loss: str,
    parameters: Iterable[nn.Parameter] | None = None,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    patience: int | None,
    generator: torch.Generator,
    sample_weight: torch.Tensor | None = None,
    validation_weight: torch.Tensor | None = None,
) -> list[dict[str, float | None]]:
    """Train ``network`` in place with AdamW on shuffled minibatches; return one history dict per epoch.

    ``parameters`` restricts what the optimiser updates (fine-tuning passes only the unfrozen ones);
    by default every parameter that requires a gradient. With ``validation``, training stops after
    ``patience`` epochs without a better validation loss (``None``: never early) and the weights of
    the best epoch are restored, so the returned network is the best one seen, not the last one.
    Shuffling draws only from ``generator`` and dropout from torch's default generator, so seeding
    both makes a CPU run reproducible. The network is left in eval mode.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")
    history: list[dict[str, float | None]] = []
    if epochs <= 0:
        network.eval()
        return history
    trainable = (
        list(parameters) if parameters is not None else [p for p in network.parameters() if p.requires_grad]
    )
    if not trainable:
        raise ValueError("no trainable parameters")
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    n_rows = X_tensor.shape[0]
    batch_size = max(1, min(int(batch_size), n_rows))
    best_loss, best_state, epochs_since_best = float("inf"), None, 0

    for epoch in range(epochs):
        network.train()
        order = torch.randperm(n_rows, generator=generator)
        total, seen = 0.0, 0
        for start in range(0, n_rows, batch_size):
            rows = order[start : start + batch_size]
            weight = sample_weight[rows] if sample_weight is not None else None
            batch_loss = _weighted_mean(pointwise_loss(loss, network(X_tensor[rows]), y_tensor[rows]), weight)
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimizer.step()
            total += float(batch_loss.detach()) * len(rows)
            seen += len(rows)
        record: dict[str, float | None] = {"epoch": epoch + 1, "train_loss": total / seen, "val_loss": None}
        if validation is not None:
            val_loss = _evaluate(network, validation[0], validation[1], validation_weight, loss)
            record["val_loss"] = val_loss
            if val_loss < best_loss:
                best_loss, epochs_since_best = val_loss, 0
                best_state = {name: value.detach().clone() for name, value in network.state_dict().items()}
            else:
                epochs_since_best += 1
        history.append(record)
        if patience is not None and validation is not None and epochs_since_best >= patience:
            break

    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return history


def split_validation(
    n_rows: int, fraction: float, rng: np.random.Generator, groups: Any = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(train, validation) row indices for early stopping; no validation when the fraction leaves either
    side empty. With ``groups`` (e.g. the composition or the splits' leakage key of each row) whole
    groups go to one side, so no group is on both; without them, or with a single group, rows are drawn
    one by one."""
    n_val = int(round(float(fraction) * n_rows)) if fraction else 0
    if n_val < 1 or n_val >= n_rows:
        return np.arange(n_rows), None
    if groups is not None and len(np.unique(np.asarray(groups))) >= 2:
        labels, codes = np.unique(np.asarray(groups), return_inverse=True)
        sizes = np.bincount(codes)
        order = rng.permutation(len(labels))
        # whole groups in a random order until the validation side holds about ``fraction`` of the rows
        taken = order[: max(int(np.searchsorted(np.cumsum(sizes[order]), n_val)) + 1, 1)]
        if len(taken) == len(labels):
            taken = taken[:-1]
        validation = np.isin(codes, taken)
        return np.flatnonzero(~validation), np.flatnonzero(validation)
    order = rng.permutation(n_rows)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def seed_from(random_state: Any) -> int:
    """One integer seed from a scikit-learn ``random_state`` (int, None or RandomState)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def fit_standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column median (NaN imputation), mean and scale, as :func:`standardise` uses them."""
    with warnings.catch_warnings():
        # an all-NaN column is legitimate (a descriptor absent from this data set): it imputes to 0
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = np.nanmedian(X, axis=0)
    imputer = np.where(np.isnan(medians), 0.0, medians)
    filled = np.where(np.isnan(X), imputer, X)
    mean = filled.mean(axis=0)
    scale = filled.std(axis=0)
    # a constant column would divide by zero; it carries no information, so leave it centred at 0
    return imputer, mean, np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)


def standardise(X: np.ndarray, imputer: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> torch.Tensor:
    """NaN -> training median, then (x - mean) / scale, as a float32 tensor for the network."""
    filled = np.where(np.isnan(X), imputer, X)
    return torch.from_numpy(((filled - mean) / scale).astype(np.float32))


def predict_network(network: nn.Module, X_tensor: torch.Tensor) -> np.ndarray:
    network.eval()
    with torch.no_grad():
        chunks = [network(chunk) for chunk in torch.split(X_tensor, _PREDICT_CHUNK)]
    return torch.cat(chunks).numpy().astype(np.float64)


def network_to_payload(network: MLPNetwork) -> dict[str, Any]:
    """Configuration and numpy weights: what pickling stores instead of the torch module."""
    state = {name: value.detach().cpu().numpy().copy() for name, value in network.state_dict().items()}
    return {"__mlp_network__": _SAVE_VERSION, "config": network.config(), "state_dict": state}


def network_from_payload(payload: dict[str, Any]) -> MLPNetwork:
    network = MLPNetwork(**payload["config"])
    network.load_state_dict({name: torch.as_tensor(value) for name, value in payload["state_dict"].items()})
    return network.eval()


def pickle_state(estimator: BaseEstimator) -> dict[str, Any]:
    """``__getstate__`` body shared by the estimators that hold a fitted ``network_``."""
    state = BaseEstimator.__getstate__(estimator)
    if isinstance(state.get("network_"), MLPNetwork):
        state = dict(state)
        state["network_"] = network_to_payload(state["network_"])
    return state


def unpickle_state(estimator: BaseEstimator, state: dict[str, Any]) -> None:
    network = state.get("network_")
    if isinstance(network, dict) and "__mlp_network__" in network:
        state = dict(state)
        state["network_"] = network_from_payload(network)
    BaseEstimator.__setstate__(estimator, state)


def _plain(value: Any) -> Any:
    """numpy scalars and tuples -> Python ones, so ``torch.load(weights_only=True)`` accepts them."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    return value


class MLPRegressor(RegressorMixin, BaseEstimator):
    """Multilayer perceptron regressor: median imputation, standardisation, AdamW, early stopping.

    Parameters
    ----------
    hidden_layers : widths of the hidden layers of the feature extractor.
    dropout : dropout probability after every hidden activation.
    learning_rate, weight_decay : AdamW settings.
    epochs : maximum number of passes over the training rows.
    batch_size : minibatch size.
    loss : ``"l1"`` (mean absolute error, the band-gap benchmark metric), ``"l2"`` or ``"huber"``.
    validation_fraction : random fraction of the training rows held out for early stopping (0: none);
        whole groups when ``fit`` gets ``groups=``.
    patience : epochs without a better validation loss before stopping; the best weights are restored.
    random_state : seeds weight initialisation, dropout, the validation split and the shuffling.

    Attributes
    ----------
    imputer_ : per-column training medians that replace NaN (0 for an all-NaN column).
    mean_, scale_ : standardisation of the imputed inputs (a constant column keeps scale 1).
    network_ : the fitted :class:`MLPNetwork`, in eval mode.
    history_ : one dict per epoch run with ``epoch``, ``train_loss``, ``val_loss``.
    n_features_in_, feature_names_in_ : as in scikit-learn (names only when fitted on a DataFrame).
    """

    def __init__(
        self,
        hidden_layers: tuple[int, ...] = (256, 128, 64),
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        epochs: int = 60,
        batch_size: int = 256,
        loss: str = "l1",
        validation_fraction: float = 0.1,
        patience: int | None = 8,
        random_state: int | np.random.RandomState | None = 0,
    ):
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

    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: pd.Series | np.ndarray,
        sample_weight: np.ndarray | None = None,
        groups: Any = None,
    ) -> MLPRegressor:
        """``groups``: each row's composition or leakage key; the early-stopping rows are whole groups."""
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        X_arr, y_arr = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True, reset=True
        )
        weight = (
            None if sample_weight is None else _check_sample_weight(sample_weight, X_arr, dtype=np.float64)
        )
        self.imputer_, self.mean_, self.scale_ = fit_standardisation(X_arr)

        seed = seed_from(self.random_state)
        train_rows, val_rows = split_validation(
            len(y_arr), self.validation_fraction, np.random.default_rng(seed), groups
        )
        X_tensor = standardise(X_arr, self.imputer_, self.mean_, self.scale_)
        y_tensor = torch.from_numpy(y_arr.astype(np.float32))
        w_tensor = None if weight is None else torch.from_numpy(weight.astype(np.float32))

        def rows(tensor: torch.Tensor | None, index: np.ndarray | None) -> torch.Tensor | None:
            return None if tensor is None or index is None else tensor[torch.from_numpy(index)]

        # fork_rng: seeding for reproducibility must not reset the caller's global torch RNG
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = MLPNetwork(X_arr.shape[1], self.hidden_layers, self.dropout)
            with torch.no_grad():
                # start the output at the centre of the targets instead of 0: band gaps sit around 1-2 eV,
                # and the first epochs would otherwise be spent learning the bias alone
                centre = np.median(y_arr[train_rows]) if self.loss == "l1" else np.mean(y_arr[train_rows])
                network.head.bias.fill_(float(centre))
            validation = None if val_rows is None else (rows(X_tensor, val_rows), rows(y_tensor, val_rows))
            self.history_ = train_network(
                network,
                rows(X_tensor, train_rows),
                rows(y_tensor, train_rows),
                epochs=int(self.epochs),
                lr=self.learning_rate,
                weight_decay=self.weight_decay,
                batch_size=self.batch_size,
                loss=self.loss,
                validation=validation,
                patience=self.patience,
                generator=torch.Generator().manual_seed(seed),
                sample_weight=rows(w_tensor, train_rows),
                validation_weight=rows(w_tensor, val_rows),
            )
        self.network_ = network
        return self

    def transform_inputs(self, X: pd.DataFrame | np.ndarray) -> torch.Tensor:
        """Imputed, standardised float32 tensor as the network sees it (DANN feeds it to ``features``)."""
        check_is_fitted(self, "network_")
        X_arr = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        return standardise(X_arr, self.imputer_, self.mean_, self.scale_)

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return predict_network(self.network_, self.transform_inputs(X))

    def __getstate__(self) -> dict[str, Any]:
        return pickle_state(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        unpickle_state(self, state)

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model with ``torch.save``: tensors, numbers and strings only, no pickled code."""
        check_is_fitted(self, "network_")
        params = self.get_params(deep=False)
        if not isinstance(params["random_state"], numbers.Integral | None):
            params["random_state"] = None  # a RandomState object cannot be loaded with weights_only
        payload = {
            "format": _SAVE_FORMAT,
            "version": _SAVE_VERSION,
            "params": {name: _plain(value) for name, value in params.items()},
            "network_config": self.network_.config(),
            "state_dict": {
                name: value.detach().cpu().clone() for name, value in self.network_.state_dict().items()
            },
            "imputer": torch.from_numpy(self.imputer_.copy()),
            "mean": torch.from_numpy(self.mean_.copy()),
            "scale": torch.from_numpy(self.scale_.copy()),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": (
                [str(name) for name in self.feature_names_in_] if hasattr(self, "feature_names_in_") else None
            ),
            "history": [{key: _plain(value) for key, value in record.items()} for record in self.history_],
        }
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        torch.save(payload, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MLPRegressor:
        """Read a file written by :meth:`save`; ``weights_only`` so loading never runs pickled code."""
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != _SAVE_FORMAT:
            raise ValueError(f"{path} is not a file written by MLPRegressor.save")
        if payload["version"] > _SAVE_VERSION:
            raise ValueError(
                f"{path} has format version {payload['version']}; this matshift reads <= {_SAVE_VERSION}"
            )
        model = cls(**payload["params"])
        network = MLPNetwork(**payload["network_config"])
        network.load_state_dict(payload["state_dict"])
        model.network_ = network.eval()
        model.imputer_ = payload["imputer"].numpy()
        model.mean_ = payload["mean"].numpy()
        model.scale_ = payload["scale"].numpy()
        model.n_features_in_ = payload["n_features_in"]
        if payload["feature_names_in"] is not None:
            model.feature_names_in_ = np.asarray(payload["feature_names_in"], dtype=object)
        model.history_ = [dict(record) for record in payload["history"]]
        return model

    def copy_network(self) -> MLPNetwork:
        """An independent copy of the fitted network, e.g. the starting point of fine-tuning."""
        check_is_fitted(self, "network_")
        return copy.deepcopy(self.network_)
