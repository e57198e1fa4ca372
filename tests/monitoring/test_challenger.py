"""The challenger rule on synthetic data where the right decision is known."""

import numpy as np
import pandas as pd

from matshift.models.design import transfer_design_matrix
from matshift.monitoring.challenger import challenge_champion, choose_proposal, eligibility, worst_group_mae
from tests.monitoring.test_scoring import fitted_champion, robust_params
from tests.pipelines.transfer_data import pretrained_transfer_domains

PARAMS = {
    "min_labelled_rows": 10,
    "holdback_fraction": 0.3,
    "min_group_rows": 3,
    "max_in_distribution_degradation": 0.05,
    "min_relative_improvement": 0.02,
    "random_state": 0,
}


def domains():
    data = pretrained_transfer_domains()
    X, y, composition = transfer_design_matrix(data["target"], data["features"], data["source_table"])
    training = {
        "X": X,
        "y": y,
        "group": data["target"].set_index("sample_id")["group"],
        "composition": composition,
    }
    return data, training


def plant_rows(training: dict, offset: float, n: int = 45) -> dict:
    """Plant measurements of the training compositions (renamed), the property moved by ``offset``."""
    rename = {i: f"plant_{i}" for i in training["X"].index[:n]}
    part = {key: value.iloc[:n].rename(index=rename) for key, value in training.items()}
    part["y"] = part["y"] + offset
    part["composition"] = part["composition"].map(lambda c: f"plant_{c}")
    return part


def test_worst_group_mae_falls_back_to_the_pooled_mae_without_large_groups():
    target, prediction = np.zeros(4), np.array([1.0, 1.0, 3.0, 0.0])
    assert worst_group_mae(target, prediction, np.array(["a", "a", "b", "b"]), 2) == 1.5
    assert worst_group_mae(target, prediction, np.array(["a", "a", "b", "c"]), 2) == 1.0
    assert worst_group_mae(target, prediction, np.array(["a", "b", "c", "d"]), 2) == 1.25


def test_a_challenger_that_learns_a_moved_property_is_promoted():
    data, training = domains()
    champion = fitted_champion(data, "catboost_uncertainty", robust_params())
    challenger, decision = challenge_champion(champion, training, plant_rows(training, offset=3.0), PARAMS)
    assert decision["evaluated"] and challenger is not None
    assert decision["challenger_plant_worst_group_mae"] < decision["champion_plant_worst_group_mae"]
    assert decision["promote"] == (
        decision["challenger_in_distribution_mae"] <= decision["in_distribution_mae_limit"]
    )
    assert decision["adaptation_rows"] + decision["held_back_rows"] == 45


def test_the_in_distribution_limit_blocks_a_challenger_that_forgets():
    data, training = domains()
    champion = fitted_champion(data, "catboost_uncertainty", robust_params())
    # no degradation allowed at all and the plant labels contradict training: it must not win on both
    strict = {**PARAMS, "max_in_distribution_degradation": -0.5}
    _, decision = challenge_champion(champion, training, plant_rows(training, offset=3.0), strict)
    assert not decision["promote"] and "in-distribution" in decision["reason"]


def test_too_few_labelled_rows_are_not_evaluated():
    data, training = domains()
    champion = fitted_champion(data, "catboost_uncertainty", robust_params())
    challenger, decision = challenge_champion(champion, training, plant_rows(training, 0.0, n=5), PARAMS)
    assert challenger is None and not decision["evaluated"] and "5 labelled rows" in decision["reason"]


def test_the_decision_is_deterministic():
    data, training = domains()
    champion = fitted_champion(data, "catboost_uncertainty", robust_params())
    plant = plant_rows(training, offset=1.0)
    first = challenge_champion(champion, training, plant, PARAMS)[1]
    second = challenge_champion(champion, training, plant, PARAMS)[1]
    assert pd.Series(first).equals(pd.Series(second))


def test_plant_rows_of_training_compositions_do_not_count():
    data, training = domains()
    champion = fitted_champion(data, "catboost_uncertainty", robust_params())
    # the same compositions the champion was trained on, measured again: no new information
    known = {key: value.iloc[:45] for key, value in training.items()}
    challenger, decision = challenge_champion(champion, training, known, PARAMS)
    assert challenger is None and not decision["evaluated"]
    assert decision["training_compositions"] == 45 and "0 labelled rows" in decision["reason"]


FAVOURED = {
    "evaluated": True,
    "promote": True,
    "reason": "ok",
    "champion_plant_worst_group_mae": 1.0,
    "challenger_plant_worst_group_mae": 0.5,
}


def test_example_batches_and_batches_with_quarantined_rows_are_never_eligible():
    params = {**PARAMS, "example_batches": {"prefix": "example_", "names": ["clean", "shifted"]}}
    assert eligibility("new_batch", FAVOURED, 0, set(), params) == []
    assert "example batch" in eligibility("clean", FAVOURED, 0, set(), params)[0]
    assert "example batch" in eligibility("example_anything", FAVOURED, 0, set(), params)[0]
    assert "3 quarantined rows" in eligibility("new_batch", FAVOURED, 3, set(), params)[0]
    assert "already fitted" in eligibility("new_batch", FAVOURED, 0, {"new_batch"}, params)[0]
    assert "rule" in eligibility("new_batch", {**FAVOURED, "promote": False}, 0, set(), params)[0]


def test_at_most_one_proposal_the_largest_improvement_ties_by_name():
    def decided(challenger_mae, eligible=True):
        return {**FAVOURED, "challenger_plant_worst_group_mae": challenger_mae, "eligible": eligible}

    decisions = {"b": decided(0.6), "c": decided(0.4), "a": decided(0.1, eligible=False), "d": decided(0.4)}
    assert choose_proposal(decisions) == "c"
    assert choose_proposal(dict(reversed(decisions.items()))) == "c"
    assert choose_proposal({"a": decided(0.1, eligible=False)}) is None


def test_a_paper_split_champion_s_challenger_holds_the_batch_out_as_one_new_paper():
    data, training = domains()
    spec = {**robust_params()["shift_calibrated"], "shift_columns": {"paper_split": "paper"}}
    spec["grouping"] = {**spec["grouping"], "paper_split": "column"}
    params = {**robust_params(), "shift_calibrated": spec}
    codes = training["composition"].astype("category").cat.codes.to_numpy() % 6
    papers = pd.Series([f"doi/{c}" for c in codes], index=training["X"].index)
    from matshift.monitoring.champion_model import ChampionModel

    champion = ChampionModel("catboost_shift", params, (0.0, 20.0), "paper_split").fit(
        training["X"], training["y"], training["group"], training["composition"], shift_values=papers
    )
    challenger, decision = challenge_champion(champion, training, plant_rows(training, offset=3.0), PARAMS)
    assert decision["evaluated"]
    batch_rows = challenger.shift_values_.index.str.startswith("plant_")
    assert batch_rows.sum() == decision["adaptation_rows"]
    assert (challenger.shift_values_[batch_rows] == "plant batch").all()
    assert challenger.shift_values_[~batch_rows].equals(
        papers.loc[challenger.shift_values_.index[~batch_rows]]
    )
