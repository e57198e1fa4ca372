"""A variational autoencoder on the descriptors: a latent feature set and an out-of-distribution score.

Trained without labels, so every available input can shape it, including the unlabelled inputs of the
domain the model will be used on (per fold: the training and the test descriptors). ``transform`` gives the
latent means (a feature set); ``score_samples`` follows scikit-learn's outlier convention (higher = more
typical) and ``ood_score`` is its opposite: the mean of two percentiles among reference rows, the
reconstruction error and the negative log-density of the latent mean under a Gaussian fitted to the
training rows' latent means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.covariance import EmpiricalCovariance
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn

from matshift.models.threads import torch_threads
from matshift.uncertainty.ood import percentile_of


class _VAENetwork(nn.Module):
    def __init__(self, n_features: int, hidden: int, n_latent: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.SiLU())
        self.mean = nn.Linear(hidden, n_latent)
        self.log_var = nn.Linear(hidden, n_latent)
        self.decoder = nn.Sequential(nn.Linear(n_latent, hidden), nn.SiLU(), nn.Linear(hidden, n_features))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = self.encoder(x)
        mean, log_var = self.mean(hidden), self.log_var(hidden).clamp(-10, 10)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        return self.decoder(z), mean, log_var


class DescriptorVAE(TransformerMixin, BaseEstimator):
    """Gaussian VAE (one hidden layer each way) on imputed, standardised descriptors."""

    def __init__(
        self,
        n_latent: int = 8,
        hidden: int = 64,
        epochs: int = 60,
        batch_size: int = 256,
        learning_rate: float = 2e-3,
        beta: float = 1.0,
        random_state: int = 0,
        n_threads: int = 1,
    ):
        self.n_latent = n_latent
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.beta = beta
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X, y=None, reference=None) -> DescriptorVAE:
        """Learn from every row of ``X`` (no labels). ``reference``: rows the OOD score is relative to
        and the latent Gaussian is fitted on (default: ``X``), e.g. the labelled training rows."""
        values = np.asarray(X, dtype=np.float64)
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(values)
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(values))
        self.network_ = self._train(self._tensor(values))
        reference_values = values if reference is None else np.asarray(reference, dtype=np.float64)
        self.latent_density_ = EmpiricalCovariance().fit(self.transform(reference_values))
        self.reference_errors_ = self.reconstruction_error(reference_values)
        self.reference_nll_ = self.latent_nll(reference_values)
        return self

    def _train(self, data: torch.Tensor) -> _VAENetwork:
        # a network this small gains nothing from threads, and loses a lot when the cores are shared
        with torch_threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            network = _VAENetwork(data.shape[1], self.hidden, self.n_latent)
            optimiser = torch.optim.Adam(network.parameters(), lr=self.learning_rate)
            generator = torch.Generator().manual_seed(self.random_state)
            network.train()
            for _ in range(self.epochs):
                for batch in torch.randperm(len(data), generator=generator).split(self.batch_size):
                    x = data[batch]
                    reconstruction, mean, log_var = network(x)
                    loss = _vae_loss(x, reconstruction, mean, log_var, self.beta).mean()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
        return network.eval()

    def _tensor(self, values: np.ndarray) -> torch.Tensor:
        scaled = self.scaler_.transform(self.imputer_.transform(values))
        return torch.from_numpy(np.clip(scaled, -10, 10).astype(np.float32))

    def transform(self, X) -> np.ndarray:
        """Latent means, one column per latent dimension."""
        check_is_fitted(self, "network_")
        with torch.no_grad():
            return self.network_.mean(
                self.network_.encoder(self._tensor(np.asarray(X, dtype=np.float64)))
            ).numpy()

    def latent_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            self.transform(X), index=X.index, columns=[f"vae_{i}" for i in range(self.n_latent)]
        )

    def reconstruction_error(self, X) -> np.ndarray:
        """Mean squared error of the decoded latent mean, in standardised units."""
        x = self._tensor(np.asarray(X, dtype=np.float64))
        with torch.no_grad():
            decoded = self.network_.decoder(self.network_.mean(self.network_.encoder(x)))
        return ((decoded - x) ** 2).mean(dim=1).numpy()

    def latent_nll(self, X) -> np.ndarray:
        """Half the squared Mahalanobis distance of the latent mean from the reference rows' latent Gaussian
        (the negative log-density up to a constant)."""
        return 0.5 * self.latent_density_.mahalanobis(self.transform(X))

    def ood_score(self, X) -> np.ndarray:
        """Mean percentile, among the reference rows, of reconstruction error and latent NLL (in [0, 1])."""
        return 0.5 * (
            percentile_of(self.reference_errors_, self.reconstruction_error(X))
            + percentile_of(self.reference_nll_, self.latent_nll(X))
        )

    def score_samples(self, X) -> np.ndarray:
        """Higher = more typical (scikit-learn's outlier-detector convention)."""
        return -self.ood_score(X)


def _vae_loss(
    x: torch.Tensor, reconstruction: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, beta: float
) -> torch.Tensor:
    squared_error = ((reconstruction - x) ** 2).sum(dim=1)
    kl = -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(dim=1)
    return squared_error + beta * kl
