import numpy as np
import pandas as pd

from matshift.robust.importance_weighting import ImportanceWeightedRegressor
from matshift.transfer import strategies


def test_inner_splits_keep_each_composition_on_one_side(monkeypatch):
    rng = np.random.default_rng(0)
    compositions = np.repeat([f"C{i}" for i in range(50)], 4)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    y = 1 + X["a"].to_numpy()
    domains = (np.arange(200) >= 160).astype(int)
    y[domains == 1] = np.nan
    declared = np.where(X["b"] > 0, "oxide", "metal")  # the declared group: not the composition
    seen = []
    original = strategies.inner_split

    def recording_split(n_rows, groups, fraction, random_state):
        seen.append((np.asarray(groups), *original(n_rows, groups, fraction, random_state)))
        return seen[-1][1:]

    monkeypatch.setattr(strategies, "inner_split", recording_split)
    model = ImportanceWeightedRegressor(
        base_params={"catboost_params": {"iterations": 20, "depth": 2}}, ratio_params={"n_folds": 3}
    )
    model.fit(X, y, domains=domains, groups=declared, compositions=compositions)
    ((groups, train, validation),) = seen
    assert list(groups) == list(compositions[domains == 0])
    assert not set(groups[train]) & set(groups[validation])
    assert model.density_ratio_.source_ratio_.shape == ((domains == 0).sum(),)
    assert np.isfinite(model.predict(X)).all()
