"""The reference suite: the vectorised range check agrees with GX's own, the rest runs in GX."""

import numpy as np
import pandas as pd
import pytest

from matshift.monitoring.reference_suite import (
    build_reference_profile,
    build_reference_suites,
    check_batch_against_reference,
    check_ranges,
    reference_validations,
)

PARAMS = {
    "quantiles": [0.05, 0.95],
    "mostly": 0.9,
    "categorical_columns": ["group"],
    "kl_columns": ["a"],
    "kl_bins": 5,
    "kl_threshold": 0.5,
    "kl_tail_weight": 0.01,
}


@pytest.fixture
def reference():
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"a": rng.normal(size=200), "b": rng.uniform(size=200)})
    table = pd.DataFrame({"composition": ["NaCl", "GaAs"] * 100, "group": ["halide", "pnictide"] * 100})
    return features, table


def gx_range_results(batch: pd.DataFrame, profile: dict) -> dict[str, dict]:
    """GX's own outcome of the range expectations (SUMMARY), per column."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    suite = build_reference_suites({**profile, "categories": {}, "histograms": {}}, PARAMS)["rows"]
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name="ranges",
            data=context.data_sources.add_pandas("p")
            .add_dataframe_asset("ranges")
            .add_batch_definition_whole_dataframe("ranges"),
            suite=context.suites.add(suite),
        )
    )
    result = definition.run(batch_parameters={"dataframe": batch}, result_format="SUMMARY")
    return {r.expectation_config.kwargs["column"]: r for r in result.results}


def test_range_check_matches_great_expectations(reference):
    features, table = reference
    profile = build_reference_profile(features, table, PARAMS)
    high_a = profile["ranges"]["a"][1]
    # a: 2 of 20 non-null rows too high (exactly at mostly = 0.9, passes); b: 3 of 19 too low, one NaN
    batch = pd.DataFrame(
        {
            "a": [high_a + 1.0, high_a + 2.0, *([0.0] * 18)],
            "b": [-1.0, -2.0, -3.0, np.nan, *([0.5] * 16)],
        }
    )
    ours = {o["column"]: o for o in check_ranges(batch, profile, PARAMS["mostly"])}
    theirs = gx_range_results(batch, profile)
    assert set(ours) == set(theirs) == {"a", "b"}
    for column, outcome in theirs.items():
        assert ours[column]["success"] == outcome.success, column
        assert ours[column]["unexpected_percent"] == pytest.approx(outcome.result["unexpected_percent"])
        assert ours[column]["partial_unexpected_list"] == outcome.result["partial_unexpected_list"]
    assert ours["a"]["success"] and not ours["b"]["success"]


def test_batch_check_names_the_failed_expectations(reference):
    features, table = reference
    profile = build_reference_profile(features, table, PARAMS)
    batch = pd.DataFrame({"a": np.full(30, 50.0), "b": np.full(30, 0.5)})
    rows = pd.DataFrame({"composition": ["NaCl"] * 29 + ["CsF"], "group": ["halide"] * 29 + ["new"]})
    result = check_batch_against_reference(batch, rows, profile, PARAMS)
    failed = {(f["expectation"], f["column"]) for f in result["failed"]}
    assert not result["success"] and result["evaluated"] == 2 + 1 + 1 + 1  # ranges, set, KL, elements
    assert failed == {
        ("expect_column_values_to_be_between", "a"),
        ("expect_column_values_to_be_in_set", "group"),
        ("expect_column_kl_divergence_to_be_less_than", "a"),
        ("expect_column_values_to_be_in_set", "element"),
    }
    inside = features.head(100).apply(lambda c: c.clip(*profile["ranges"][c.name]))
    clean = check_batch_against_reference(inside, table.head(100), profile, PARAMS)
    assert clean["success"] and clean["failed"] == []


def test_suites_made_once_check_each_batch_as_suites_made_for_it(reference):
    # a run makes the GX validations once; a clean batch after a failing one must stay clean
    features, table = reference
    profile = build_reference_profile(features, table, PARAMS)
    bad = pd.DataFrame({"a": np.full(30, 50.0), "b": np.full(30, 0.5)})
    bad_rows = pd.DataFrame({"composition": ["CsF"] * 30, "group": ["new"] * 30})
    batches = [(bad, bad_rows), (features.head(100), table.head(100)), (bad, table.head(30))]
    validations = reference_validations(profile, PARAMS)
    for batch, rows in batches:
        alone = check_batch_against_reference(batch, rows, profile, PARAMS)
        assert check_batch_against_reference(batch, rows, profile, PARAMS, validations) == alone
    assert not alone["success"]
