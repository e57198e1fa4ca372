"""Physics-informed conductivity models: the temperature law is fixed, a network learns its coefficients.

Vogel-Tammann-Fulcher (VTF): log10 sigma = A(x) - B(x) / (T - T0(x)), Arrhenius: the same with T0 = 0.
A, B and T0 are the three outputs of a small PyTorch network of the *non-temperature* features x, so
a prediction at an unseen temperature follows the law instead of flattening out as trees do.
Constraints: B = b_scale_K * softplus(.) > 0 and T0 = lo + (hi - lo) * sigmoid(.) with
hi = min(t0_max_K, min(T seen in fit) - t0_margin_K): the pole stays below every training temperature.
At prediction T - T0 is floored at ``min_gap_K`` so a temperature below T0 cannot flip the sign.
Training uses one torch thread by default: the matrices are tiny, and two threads on a busy 2-core
machine were measured 10-20x slower than one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from matshift.models.registry import register_models
from matshift.models.threads import torch_threads

TEMPERATURE_COLUMN = "temperature_K"
# Columns that carry temperature: the law reads T from the first, the network sees none of them.
TEMPERATURE_FEATURES = (TEMPERATURE_COLUMN, "inverse_temperature_1000_per_K")
LAWS = ("vtf", "arrhenius")


def _coefficient_network(n_features: int, hidden_layers: Sequence[int]) -> nn.Sequential:
    blocks: list[nn.Module] = []
    width = n_features
    for out_width in hidden_layers:
        blocks += [nn.Linear(width, out_width), nn.SiLU()]
        width = out_width
    blocks.append(nn.Linear(width, 3))  # raw A, B, T0
    return nn.Sequential(*blocks)


class TemperatureLawRegressor(RegressorMixin, BaseEstimator):
    """log10 conductivity = A(x) - B(x) / (T - T0(x)) (``law="vtf"``) or T0 = 0 (``law="arrhenius"``)."""

    def __init__(
        self,
        law: str = "vtf",
        temperature_column: str = TEMPERATURE_COLUMN,
        exclude_columns: Sequence[str] = TEMPERATURE_FEATURES,
        hidden_layers: Sequence[int] = (32, 32),
        max_epochs: int = 60,
        batch_size: int = 512,
        learning_rate: float = 5e-3,
        weight_decay: float = 1e-5,
        b_scale_K: float | None = None,
        t0_min_K: float = 80.0,
        t0_max_K: float = 200.0,
        t0_margin_K: float = 20.0,
        min_gap_K: float = 5.0,
        n_threads: int = 1,
        random_state: int = 0,
    ):
        self.law = law
        self.temperature_column = temperature_column
        self.exclude_columns = exclude_columns
        self.hidden_layers = hidden_layers
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.b_scale_K = b_scale_K
        self.t0_min_K = t0_min_K
        self.t0_max_K = t0_max_K
        self.t0_margin_K = t0_margin_K
        self.min_gap_K = min_gap_K
        self.n_threads = n_threads
        self.random_state = random_state

    # -- data
    def _split(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if self.temperature_column not in X.columns:
            raise ValueError(
                f"{type(self).__name__} needs the temperature column {self.temperature_column!r}"
            )
        temperature = X[self.temperature_column].to_numpy(dtype=np.float64)
        context = X.drop(columns=[c for c in self.exclude_columns if c in X.columns])
        return temperature, context.to_numpy(dtype=np.float64)

    def _standardise(self, context: np.ndarray) -> torch.Tensor:
        filled = np.where(np.isnan(context), self.feature_medians_, context)
        return torch.as_tensor((filled - self.feature_means_) / self.feature_scales_, dtype=torch.float32)

    # -- the law
    def _coefficients(self, network: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raw = network(x)
        a = raw[:, 0] + self.a_offset_
        b = self.b_scale_ * nn.functional.softplus(raw[:, 1] + 1.0)
        if self.law == "arrhenius":
            return a, b, torch.zeros_like(a)
        low, high = self.t0_bounds_
        return a, b, low + (high - low) * torch.sigmoid(raw[:, 2])

    def _law(self, network: nn.Module, x: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
        a, b, t0 = self._coefficients(network, x)
        return a - b / torch.clamp(temperature - t0, min=self.min_gap_K)

    def fit(self, X: pd.DataFrame, y: Any) -> TemperatureLawRegressor:
        if self.law not in LAWS:
            raise ValueError(f"law must be one of {LAWS}, got {self.law!r}")
        temperature, context = self._split(X)
        target = np.asarray(y, dtype=np.float64)
        medians = np.nanmedian(np.where(np.isnan(context).all(axis=0), 0.0, context), axis=0)
        self.feature_medians_ = np.nan_to_num(medians)
        filled = np.where(np.isnan(context), self.feature_medians_, context)
        self.feature_means_ = filled.mean(axis=0)
        scales = filled.std(axis=0)
        self.feature_scales_ = np.where(scales > 0, scales, 1.0)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        high = min(self.t0_max_K, float(temperature.min()) - self.t0_margin_K)
        self.t0_bounds_ = (min(self.t0_min_K, high - 1.0), high)
        default_scale = 300.0 if self.law == "vtf" else 1000.0  # typical B in K for log10 sigma
        self.b_scale_ = float(self.b_scale_K or default_scale)
        # Start A so that the initial law passes through the mean target at the mean temperature.
        t0_start = 0.0 if self.law == "arrhenius" else sum(self.t0_bounds_) / 2.0
        b_start = self.b_scale_ * float(np.log1p(np.e))
        self.a_offset_ = float(target.mean() + b_start / (temperature.mean() - t0_start))

        with torch_threads(self.n_threads), torch.random.fork_rng():
            torch.manual_seed(self.random_state)
            network = self._train(self._standardise(context), temperature, target)
        # numpy state, not a torch module: the pickle does not depend on torch internals
        self.state_ = {name: tensor.detach().numpy().copy() for name, tensor in network.state_dict().items()}
        return self

    def _train(self, x: torch.Tensor, temperature: np.ndarray, target: np.ndarray) -> nn.Module:
        network = _coefficient_network(x.shape[1], self.hidden_layers)
        optimiser = torch.optim.Adam(
            network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        t = torch.as_tensor(temperature, dtype=torch.float32)
        y = torch.as_tensor(target, dtype=torch.float32)
        n_rows = len(y)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=self.max_epochs)
        for _ in range(self.max_epochs):
            order = torch.randperm(n_rows)
            for start in range(0, n_rows, self.batch_size):
                batch = order[start : start + self.batch_size]
                loss = nn.functional.mse_loss(self._law(network, x[batch], t[batch]), y[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            scheduler.step()
        return network.eval()

    def _network(self) -> nn.Module:
        check_is_fitted(self, "state_")
        network = _coefficient_network(len(self.feature_means_), self.hidden_layers)
        network.load_state_dict({name: torch.as_tensor(value) for name, value in self.state_.items()})
        return network.eval()

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        temperature, context = self._split(X)
        with torch.no_grad():
            law = self._law(self._network(), self._standardise(context), torch.as_tensor(temperature))
        return law.numpy().astype(np.float64)

    def law_parameters(self, X: pd.DataFrame) -> pd.DataFrame:
        """A, B (K) and T0 (K) per row: the fitted law, for inspection and plots."""
        _, context = self._split(X)
        with torch.no_grad():
            a, b, t0 = self._coefficients(self._network(), self._standardise(context))
        return pd.DataFrame({"A": a.numpy(), "B_K": b.numpy(), "T0_K": t0.numpy()}, index=X.index)


# Registered in the one registry's physics family (matshift.models.registry); PHYSICS_MODELS is their
# name -> factory(params) view.
PHYSICS_MODELS: Mapping[str, Callable[[dict[str, Any]], TemperatureLawRegressor]] = register_models(
    "physics",
    {
        "vtf": lambda params, clip, source: TemperatureLawRegressor(law="vtf", **params),
        "arrhenius": lambda params, clip, source: TemperatureLawRegressor(law="arrhenius", **params),
    },
)
