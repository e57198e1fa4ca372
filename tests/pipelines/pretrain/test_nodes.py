import numpy as np
import pandas as pd
import pytest

from matshift.transfer.source import ALL_SOURCE
from tests.pipelines.transfer_data import N_FOLDS, pretrained_transfer_domains


@pytest.fixture(scope="module")
def pretrained():
    data = pretrained_transfer_domains()
    return data, data["polymorphs"], data["folds"], data["models"], data["source_table"]


def test_one_source_label_per_composition(pretrained):
    _, polymorphs, _, _, _ = pretrained
    assert len(polymorphs) == 40 and (polymorphs["source_polymorph_count"] == 2).all()


def test_a_model_on_all_entries_and_one_per_fold(pretrained):
    data, _, folds, models, _ = pretrained
    assert set(models) == {"catboost", "mlp"}
    for per_fold in models.values():
        pairs = {(j, k) for j in range(N_FOLDS) for k in range(j + 1, N_FOLDS)}
        assert set(per_fold) == {ALL_SOURCE, *range(N_FOLDS), *pairs}
    # source compositions measured in target test fold k are held out of fold model k
    tested = data["splits"].query("role == 'test'").merge(data["target"], on="sample_id")
    in_source = tested[tested["composition"].isin(folds.index)]
    assert (
        folds.loc[in_source["composition"], "source_fold"].to_numpy() == in_source["fold"].to_numpy()
    ).all()


def test_target_compositions_get_lookup_and_cross_fitted_source_predictions(pretrained):
    data, _, folds, models, table = pretrained
    assert list(table.index) == list(data["target"]["composition"])
    assert table.loc["X20", "in_source"] and not table.loc["X50", "in_source"]
    assert np.isnan(table.loc["X50", "source_gap_median"]) and table.loc["X50", "source_polymorph_count"] == 0
    # a source composition is predicted by the fold model that did not see it
    fold = int(folds.loc["X20", "source_fold"])
    own = models["catboost"][fold].predict(data["features"].loc[["X20"]])[0]
    assert table.loc["X20", "source_model_catboost"] == pytest.approx(own)
    # one absent from the source gets the mean of the fold models
    mean = np.mean([models["catboost"][k].predict(data["features"].loc[["X50"]])[0] for k in range(N_FOLDS)])
    assert table.loc["X50", "source_model_catboost"] == pytest.approx(mean)
    assert (table["source_model_catboost_std"] >= 0).all()
    assert isinstance(table, pd.DataFrame) and table["source_model_mlp"].notna().all()
