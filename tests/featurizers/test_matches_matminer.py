"""Equality with matminer's ElementProperty("magpie"), Stoichiometry() and ValenceOrbital().

Tolerance: ``|ours - matminer| <= 1e-6 * max(1, |matminer|)``, i.e. absolute 1e-6 for values up to
1 and relative 1e-6 above (melting temperatures and atomic weights reach the thousands). NaN must
appear in exactly the same places.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matshift.featurizers import ElementProperty, Stoichiometry, ValenceOrbital, featurize_compositions

matminer_composition = pytest.importorskip("matminer.featurizers.composition")
pymatgen_core = pytest.importorskip("pymatgen.core")

N_SAMPLE = 1000
SEED = 20240611
TOLERANCE = 1e-6

# Edge cases the random sample is unlikely to hit: elements with missing Magpie values (He, Ne, Ar,
# Rn, At, Fr, Bk..Lr), mode ties within np.isclose's tolerance and just outside it, decimal amounts.
EDGE_CASES = [
    "He",
    "HeH",
    "HeH2",
    "He2H",
    "ArF2",
    "NeXe",
    "RnF2",
    "FrCl",
    "AtH",
    "BkO2",
    "LrCl3",
    "EsFmMd",
    "NoLr",
    "NaCl",
    "Na1.000001Cl",
    "NaCl1.00002",
    "Na3Cl3K3",
    "Fe2O3",
    "Al0.5Ga0.5As",
    "Ag(W3Br7)2",
    "H",
    "U",
]


def matminer_features(formulas: Sequence[str], impute_nan: bool) -> tuple[list[str], np.ndarray]:
    """Labels and values from matminer, one pymatgen Composition per formula."""
    featurizers = [
        matminer_composition.Stoichiometry(),
        matminer_composition.ElementProperty.from_preset("magpie", impute_nan=impute_nan),
        matminer_composition.ValenceOrbital(impute_nan=impute_nan),
    ]
    labels = [label for featurizer in featurizers for label in featurizer.feature_labels()]
    rows = []
    with warnings.catch_warnings():
        # matminer warns about imputation and numpy about means of NaN; neither is a failure here.
        warnings.simplefilter("ignore")
        for formula in formulas:
            composition = pymatgen_core.Composition(formula)
            rows.append([value for featurizer in featurizers for value in featurizer.featurize(composition)])
    return labels, np.asarray(rows, dtype=np.float64)


def assert_matches(ours: pd.DataFrame, labels: list[str], theirs: np.ndarray) -> None:
    assert list(ours.columns) == labels
    values = ours.to_numpy()
    np.testing.assert_array_equal(np.isnan(values), np.isnan(theirs), err_msg="NaN pattern differs")
    both = ~np.isnan(theirs)
    error = np.abs(values[both] - theirs[both]) / np.maximum(1.0, np.abs(theirs[both]))
    worst = np.unravel_index(np.argmax(np.where(both, np.abs(values - theirs), -1)), values.shape)
    assert error.max() <= TOLERANCE, (
        f"worst: {ours.index[worst[0]]} {labels[worst[1]]}: ours {values[worst]} matminer {theirs[worst]}"
    )


@pytest.fixture(scope="module")
def sampled_formulas(matbench_csv: Callable[[str], Path]) -> list[str]:
    formulas = pd.read_csv(matbench_csv("expt_gap"))["formula"].drop_duplicates()
    return formulas.sample(n=min(N_SAMPLE, len(formulas)), random_state=SEED).tolist()


def test_matches_matminer_on_expt_gap_sample(sampled_formulas: list[str]) -> None:
    assert len(sampled_formulas) >= N_SAMPLE
    ours = featurize_compositions(sampled_formulas)
    assert list(ours.index) == sampled_formulas
    labels, theirs = matminer_features(sampled_formulas, impute_nan=True)
    assert_matches(ours, labels, theirs)


@pytest.mark.parametrize("impute_nan", [True, False])
def test_matches_matminer_on_edge_cases(impute_nan: bool) -> None:
    ours = featurize_compositions(EDGE_CASES, impute_nan=impute_nan)
    labels, theirs = matminer_features(EDGE_CASES, impute_nan=impute_nan)
    assert_matches(ours, labels, theirs)
    if not impute_nan:
        assert np.isnan(theirs).any()  # the edge cases really exercise the NaN path


def test_labels_and_citations_follow_matminer() -> None:
    pairs = [
        (Stoichiometry(), matminer_composition.Stoichiometry()),
        (ElementProperty.from_preset("magpie"), matminer_composition.ElementProperty.from_preset("magpie")),
        (ValenceOrbital(), matminer_composition.ValenceOrbital()),
    ]
    for ours, theirs in pairs:
        assert ours.feature_labels() == theirs.feature_labels()
        assert len(ours.citations()) == len(theirs.citations())
