import numpy as np
import pandas as pd
import pytest
import torch

from matshift.models.mlp import split_validation
from matshift.models.physics import MonotonicPenaltyMLP


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = 2 * X["a"].to_numpy() - X["b"].to_numpy()
    groups = np.repeat([f"alloy{i}" for i in range(30)], 4)
    return X, y, groups


def test_phase_rule_penalty_is_deterministic_with_dropout_and_keeps_the_training_mode(data):
    X, y, _ = data
    model = MonotonicPenaltyMLP(monotone={"a": 1, "b": -1}, dropout=0.5, epochs=2, random_state=0).fit(X, y)
    network = model.network_.train()
    x = torch.from_numpy(X.to_numpy(dtype=np.float32))
    first, second = model._penalty(network, x), model._penalty(network, x)
    assert network.training  # dropout stays on for the data term
    assert float(first.detach()) == float(second.detach())
    network.eval()
    with torch.no_grad():
        base = network(x)
        moved = x.clone()
        moved[:, 0] += model.step
        wrong_a = torch.relu(-(network(moved) - base) / model.step).mean()
        moved = x.clone()
        moved[:, 1] += model.step
        wrong_b = torch.relu((network(moved) - base) / model.step).mean()
    assert float(first.detach()) == pytest.approx(float(wrong_a + wrong_b), rel=1e-5)


def test_the_penalty_carries_a_gradient(data):
    X, y, _ = data
    model = MonotonicPenaltyMLP(monotone={"a": -1}, dropout=0.3, epochs=1, random_state=0).fit(X, y)
    network = model.network_.train()
    penalty = model._penalty(network, torch.from_numpy(X.to_numpy(dtype=np.float32)))
    penalty.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in network.parameters())


def test_early_stopping_holds_out_whole_groups(data):
    X, y, groups = data
    train, validation = split_validation(len(X), 0.2, np.random.default_rng(3), groups)
    assert validation is not None and 0.1 * len(X) <= len(validation) <= 0.35 * len(X)
    assert not set(groups[train]) & set(groups[validation])
    assert len(train) + len(validation) == len(X)
    # the fitted model takes the groups and stays reproducible
    first = MonotonicPenaltyMLP(monotone={"a": 1}, epochs=3, random_state=0).fit(X, y, groups=groups)
    again = MonotonicPenaltyMLP(monotone={"a": 1}, epochs=3, random_state=0).fit(X, y, groups=groups)
    assert np.allclose(first.predict(X), again.predict(X))


def test_one_group_falls_back_to_rows():
    train, validation = split_validation(20, 0.25, np.random.default_rng(0), np.zeros(20))
    assert validation is not None and len(validation) == 5 and len(train) == 15
