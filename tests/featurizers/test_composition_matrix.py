"""The shared composition matrix."""

from __future__ import annotations

import numpy as np

from matshift.chemistry.formula import parse_formula
from matshift.featurizers import build_composition_matrix


def test_rows_are_sorted_by_atomic_number_and_normalised() -> None:
    matrix = build_composition_matrix(["OFe2", "NaCl", "Ag(W3Br7)2"])
    assert matrix.formulas == ("OFe2", "NaCl", "Ag(W3Br7)2")
    first = slice(matrix.indptr[0], matrix.indptr[1])
    np.testing.assert_array_equal(matrix.element_index[first], [7, 25])  # O (Z=8), Fe (Z=26)
    np.testing.assert_array_equal(matrix.amounts[first], [1, 2])
    dense = matrix.to_dense()
    np.testing.assert_allclose(dense.sum(axis=1), 1)
    assert dense[0, 25] == 2 / 3
    np.testing.assert_array_equal(matrix.to_scipy().toarray(), dense)
    np.testing.assert_array_equal(matrix.to_dense(normalise=False)[2, [46, 73, 34]], [1, 6, 14])


def test_each_distinct_formula_is_parsed_once() -> None:
    calls: list[str] = []

    def counting_parser(formula: str) -> dict[str, float]:
        calls.append(formula)
        return parse_formula(formula)

    matrix = build_composition_matrix(["NaCl", "MgO", "NaCl", "MgO", "NaCl"], parser=counting_parser)
    assert calls == ["NaCl", "MgO"]
    assert matrix.n_rows == 2


def test_invalid_rows_are_empty() -> None:
    matrix = build_composition_matrix(["NaCl", "???", "MgO"], errors="nan")
    np.testing.assert_array_equal(matrix.valid, [True, False, True])
    sums = matrix.reduce(np.add, matrix.fractions)
    assert np.isnan(sums[1]) and sums[0] == sums[2] == 1
