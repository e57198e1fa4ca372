import pandas as pd

from matshift.audit.near_duplicates import (
    near_duplicate_fractions,
    near_duplicate_pairs,
    random_split_warnings,
)


def test_pairs_need_the_same_elements_and_close_fractions():
    # Fe2O3 (0.4, 0.6) and Fe41O59 (0.41, 0.59) are near; FeO (0.5, 0.5) is 0.1 away; FeS shares no set
    pairs = near_duplicate_pairs(["O3Fe2", "O59Fe41", "OFe", "SFe"], tolerance=0.05)
    found = set(zip(pairs["composition"], pairs["neighbour"], strict=True))
    assert ("O3Fe2", "O59Fe41") in found and ("O59Fe41", "O3Fe2") in found
    assert ("O3Fe2", "OFe") not in found
    assert not any(a != b for a, b in found if "S" in a or "S" in b)
    assert {("SFe", "SFe"), ("OFe", "OFe")} <= found  # every composition is its own neighbour


def test_fractions_count_test_compositions_with_a_training_relative():
    pairs = near_duplicate_pairs(["O3Fe2", "O59Fe41", "OFe", "SFe", "ClNa"], tolerance=0.05)
    test = pd.Series(["O59Fe41", "O59Fe41", "SFe", "ClNa"])
    result = near_duplicate_fractions(pairs, ["O3Fe2", "OFe", "ClNa"], test)
    assert result["n_test_compositions"] == 3
    assert result["near_duplicate_fraction_compositions"] == 2 / 3  # O59Fe41 (near) and ClNa (exact)
    assert result["near_not_exact_fraction_compositions"] == 1 / 3
    assert result["near_duplicate_fraction_rows"] == 3 / 4


def test_random_split_warned_louder_when_robustness_is_claimed_on_it():
    shares = {"matbench_cv": 0.1, "leave_cluster_out": 0.0}
    assert len(random_split_warnings(shares, ["matbench_cv"], None)) == 1
    claimed = random_split_warnings(shares, ["matbench_cv"], "matbench_cv")
    assert claimed[0].startswith("robustness is claimed on matbench_cv")
    assert random_split_warnings({"leave_cluster_out": 0.0}, ["matbench_cv"], None) == []
