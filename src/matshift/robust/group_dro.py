"""Group distributionally robust optimisation (Sagawa, Koh, Hashimoto, Liang 2020, ICLR), by hand.

Online group weights q (their Algorithm 1): after each minibatch, q_g <- q_g * exp(step_size * loss_g)
for every group g in the batch, renormalised, and the network minimises sum_g q_g loss_g, so the
group the model currently serves worst gets the most weight. The paper's main finding is that this
only helps with strong regularisation: a network that fits every training row has zero loss in every
group, and the re-weighting then does nothing. Hence a large default ``weight_decay`` and early
stopping on the validation rows' *worst-group* loss. No maintained library offers it for
regression (skada targets domain adaptation, not group shift), so it is written here.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from matshift.models.mlp import LOSSES, MLPNetwork, pointwise_loss, split_validation
from matshift.robust.networks import EarlyStopping, TorchRegressorMixin


def worst_group_loss(losses: torch.Tensor, group_index: torch.Tensor, n_groups: int) -> float:
    present = [losses[group_index == g].mean() for g in range(n_groups) if (group_index == g).any()]
    return float(torch.stack(present).max())


class GroupDRORegressor(TorchRegressorMixin, RegressorMixin, BaseEstimator):
    """``fit(X, y, groups=g)``; without groups every row is one group and this is plain ERM."""

    def __init__(
        self,
        hidden_layers: tuple[int, ...] = (128, 64),
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-2,
        epochs: int = 80,
        batch_size: int = 128,
        loss: str = "l1",
        step_size: float = 0.01,
        validation_fraction: float = 0.15,
        patience: int | None = 10,
        random_state: int | None = 0,
    ):
        self.hidden_layers = hidden_layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.loss = loss
        self.step_size = step_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    def fit(self, X, y, groups=None, compositions=None) -> GroupDRORegressor:
        """``groups``: the groups the worst case is taken over; ``compositions`` (or the splits' leakage
        key): the early-stopping rows are whole ones, as the splits hold them out."""
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        X_all, y_all = self._prepare(X, y)
        groups = np.zeros(len(y_all), dtype=int) if groups is None else np.asarray(groups)
        self.groups_, group_index = np.unique(groups, return_inverse=True)
        n_groups = len(self.groups_)
        seed = self._seed()
        rng = np.random.default_rng(seed)
        train_rows, val_rows = split_validation(len(y_all), self.validation_fraction, rng, compositions)
        y_tensor = torch.from_numpy(y_all.astype(np.float32))
        g_tensor = torch.from_numpy(group_index)
        q = torch.full((n_groups,), 1.0 / n_groups)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = MLPNetwork(X_all.shape[1], self.hidden_layers, self.dropout)
            with torch.no_grad():
                network.head.bias.fill_(float(np.median(y_all[train_rows])))
            optimizer = torch.optim.AdamW(
                network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            n_batches = max(1, int(np.ceil(len(train_rows) / self.batch_size)))
            stopping = EarlyStopping(self.patience)
            self.history_ = []
            for epoch in range(self.epochs):
                network.train()
                for batch in np.array_split(rng.permutation(train_rows), n_batches):
                    rows = torch.from_numpy(batch)
                    losses = pointwise_loss(self.loss, network(X_all[rows]), y_tensor[rows])
                    batch_groups = g_tensor[rows]
                    group_losses = torch.zeros(n_groups)
                    group_losses = group_losses.index_add(0, batch_groups, losses) / torch.bincount(
                        batch_groups, minlength=n_groups
                    ).clamp(min=1)
                    with torch.no_grad():
                        present = torch.bincount(batch_groups, minlength=n_groups) > 0
                        q = q * torch.exp(self.step_size * group_losses.detach() * present)
                        q = q / q.sum()
                    objective = (q * group_losses).sum()
                    optimizer.zero_grad(set_to_none=True)
                    objective.backward()
                    optimizer.step()
                record = {"epoch": epoch + 1, "group_weights": q.tolist(), "val_worst_group_loss": None}
                if val_rows is not None:
                    network.eval()
                    with torch.no_grad():
                        rows = torch.from_numpy(val_rows)
                        losses = pointwise_loss(self.loss, network(X_all[rows]), y_tensor[rows])
                        val_loss = worst_group_loss(losses, g_tensor[rows], n_groups)
                    record["val_worst_group_loss"] = val_loss
                self.history_.append(record)
                if stopping.should_stop(record["val_worst_group_loss"], network):
                    break
        self.network_ = stopping.restore(network)
        self.group_weights_ = q.numpy()
        return self
