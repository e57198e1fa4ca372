import pytest

from matshift.monitoring.champion import select_champion

METRICS = {
    "leave_cluster_out": {
        "a": {"worst_group_mae": 0.5, "coverage_90": 0.70},  # best error, intervals too narrow
        "b": {"worst_group_mae": 0.6, "coverage_90": 0.88},
        "c": {"worst_group_mae": 0.9, "coverage_90": 0.90},
    }
}
RULE = {
    "split": "leave_cluster_out",
    "minimise": "worst_group_mae",
    "coverage_range": [0.85, 0.95],
    "candidates": ["a", "b", "c", "absent"],
}


def test_lowest_metric_among_models_with_coverage_in_range():
    choice = select_champion(METRICS, RULE)
    assert choice["model"] == "b" and choice["coverage_ok"] and set(choice["candidates"]) == {"a", "b", "c"}


def test_without_a_qualifying_model_the_lowest_metric_wins_and_says_so():
    choice = select_champion(METRICS, {**RULE, "coverage_range": [0.95, 1.0]})
    assert choice["model"] == "a" and not choice["coverage_ok"]


def test_a_rule_that_cannot_apply_says_what_to_run():
    with pytest.raises(KeyError, match="run the robust stage"):
        select_champion(METRICS, {**RULE, "candidates": ["absent"]})
    with pytest.raises(KeyError, match="split 'nope'"):
        select_champion(METRICS, {**RULE, "split": "nope"})
