import numpy as np
import pandas as pd
import yaml

from matshift.monitoring.scoring import PREDICTION_COLUMNS, score_batch
from tests.conftest import PROJECT_ROOT
from tests.pipelines.transfer_data import pretrained_transfer_domains


def test_a_batch_gets_predictions_intervals_and_flags_with_reasons():
    data = pretrained_transfer_domains()
    params = yaml.safe_load((PROJECT_ROOT / "conf/smoke/parameters_robust.yml").read_text())["robust"]
    params["min_group_size"] = 3
    compositions = [f"X{i}" for i in range(15)]  # known to the source, never measured
    batch = pd.DataFrame(
        {"sample_id": [f"b{i}" for i in range(15)], "composition": compositions, "group": ["a", "b", "c"] * 5}
    )
    scored = score_batch(
        batch,
        data["features"],
        data["target"],
        data["features"],
        data["source_table"],
        data["polymorphs"],
        data["models"],
        data["folds"],
        "catboost_uncertainty",
        params,
        (0.0, 20.0),
    )
    assert list(scored.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert len(scored) == 15 and "target" not in scored
    assert (scored["lower"] <= scored["prediction"]).all() and (scored["prediction"] <= scored["upper"]).all()
    assert (scored["reason"].str.len() > 0).eq(scored["uncertain"]).all()
    assert np.isfinite(scored["prediction"]).all()
