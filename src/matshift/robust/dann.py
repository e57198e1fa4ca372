"""Domain-adversarial neural network (Ganin et al. 2016, JMLR 17(59)), written by hand.

skada's DANN needs the ``skada[deep]`` extra (skorch), which would move the pinned torch; this is
the method itself, on the project's MLP backbone (:class:`~matshift.models.mlp.MLPNetwork`): a regression head
on the features of labelled source rows, and a domain classifier that sees the features of source
and unlabelled target rows through a gradient-reversal layer. Minimising the domain loss through the
reversal makes the features *less* able to tell the domains apart, so the head learns from what the
source and the target share. The reversal weight follows the paper's schedule
lambda(p) = max_weight * (2 / (1 + exp(-gamma p)) - 1), p the fraction of training done, so early
noisy domain gradients do not wreck the features.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn

from matshift.models.mlp import LOSSES, MLPNetwork, pointwise_loss, split_validation
from matshift.robust.density_ratio import SOURCE, TARGET
from matshift.robust.networks import EarlyStopping, TorchRegressorMixin


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.weight * grad, None


def reversal_weight(progress: float, max_weight: float, gamma: float) -> float:
    """Ganin et al.'s schedule: 0 at the start, max_weight at the end."""
    return max_weight * (2.0 / (1.0 + np.exp(-gamma * progress)) - 1.0)


class DANNRegressor(TorchRegressorMixin, RegressorMixin, BaseEstimator):
    """``fit(X, y, domains=d)``: rows with d == 0 are labelled source rows, d == 1 unlabelled target rows
    (their ``y`` is ignored and may be NaN). Early stopping on a random ``validation_fraction`` of the
    source rows (task loss); the standardisation is learned on source and target inputs together.
    """

    def __init__(
        self,
        hidden_layers: tuple[int, ...] = (128, 64),
        dropout: float = 0.1,
        domain_hidden: int = 32,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 80,
        batch_size: int = 128,
        loss: str = "l1",
        max_reversal_weight: float = 1.0,
        gamma: float = 10.0,
        validation_fraction: float = 0.15,
        patience: int | None = 10,
        random_state: int | None = 0,
    ):
        self.hidden_layers = hidden_layers
        self.dropout = dropout
        self.domain_hidden = domain_hidden
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.loss = loss
        self.max_reversal_weight = max_reversal_weight
        self.gamma = gamma
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    def fit(self, X, y, domains=None, groups=None, compositions=None) -> DANNRegressor:
        """``compositions``: each row's composition (or the splits' leakage key): the early-stopping rows
        are whole ones, as the splits hold them out."""
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        domains = np.zeros(len(X), dtype=int) if domains is None else np.asarray(domains)
        y = np.where(domains == SOURCE, np.asarray(y, dtype=float), 0.0)  # target labels are never read
        X_all, y_all = self._prepare(X, y)
        source_rows, target_rows = np.flatnonzero(domains == SOURCE), np.flatnonzero(domains == TARGET)
        seed = self._seed()
        rng = np.random.default_rng(seed)
        held_out_by = None if compositions is None else np.asarray(compositions)[source_rows]
        fit_idx, val_idx = split_validation(len(source_rows), self.validation_fraction, rng, held_out_by)
        train_rows = source_rows[fit_idx]
        val_rows = None if val_idx is None else source_rows[val_idx]
        y_tensor = torch.from_numpy(y_all.astype(np.float32))

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = MLPNetwork(X_all.shape[1], self.hidden_layers, self.dropout)
            with torch.no_grad():
                network.head.bias.fill_(float(np.median(y_all[train_rows])))
            domain_classifier = nn.Sequential(
                nn.Linear(network.n_latent, self.domain_hidden), nn.ReLU(), nn.Linear(self.domain_hidden, 1)
            )
            optimizer = torch.optim.AdamW(
                [*network.parameters(), *domain_classifier.parameters()],
                lr=self.learning_rate,
                weight_decay=self.weight_decay,
            )
            n_batches = max(1, int(np.ceil(len(train_rows) / self.batch_size)))
            total_steps, step = self.epochs * n_batches, 0
            stopping = EarlyStopping(self.patience)
            self.history_ = []
            for epoch in range(self.epochs):
                network.train()
                domain_classifier.train()
                order = rng.permutation(train_rows)
                for batch in np.array_split(order, n_batches):
                    weight = reversal_weight(step / total_steps, self.max_reversal_weight, self.gamma)
                    step += 1
                    target_batch = rng.choice(target_rows, size=len(batch)) if len(target_rows) else batch[:0]
                    inputs = X_all[torch.from_numpy(np.r_[batch, target_batch])]
                    features = network.features(inputs)
                    task = pointwise_loss(
                        self.loss,
                        network.head(features[: len(batch)]).squeeze(-1),
                        y_tensor[torch.from_numpy(batch)],
                    ).mean()
                    domain_labels = torch.from_numpy(np.r_[np.zeros(len(batch)), np.ones(len(target_batch))])
                    reversed_features = _GradientReversal.apply(features, weight)
                    domain = nn.functional.binary_cross_entropy_with_logits(
                        domain_classifier(reversed_features).squeeze(-1), domain_labels.float()
                    )
                    optimizer.zero_grad(set_to_none=True)
                    (task + domain).backward()
                    optimizer.step()
                record = {"epoch": epoch + 1, "reversal_weight": weight, "val_loss": None}
                if val_rows is not None:
                    network.eval()
                    with torch.no_grad():
                        val_prediction = network(X_all[torch.from_numpy(val_rows)])
                        val_loss = float(
                            pointwise_loss(
                                self.loss, val_prediction, y_tensor[torch.from_numpy(val_rows)]
                            ).mean()
                        )
                    record["val_loss"] = val_loss
                self.history_.append(record)
                if stopping.should_stop(record["val_loss"], network):
                    break
        self.network_ = stopping.restore(network)
        self.domain_classifier_ = domain_classifier.eval()
        return self
