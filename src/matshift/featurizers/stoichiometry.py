"""Stoichiometric p-norms, equal to matminer's ``Stoichiometry()`` with its defaults.

``p = 0`` gives the number of elements; otherwise ``(sum_i x_i ** p) ** (1 / p)`` over the atomic
fractions ``x_i``. Labels are matminer's (``"0-norm"``, ``"2-norm"``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matshift.featurizers.composition_matrix import CompositionFeaturizer, CompositionMatrix
from matshift.featurizers.magpie import WARD_2016_BIBTEX, WARD_2016_SHORT

DEFAULT_P_LIST: tuple[int, ...] = (0, 2, 3, 5, 7, 10)


class Stoichiometry(CompositionFeaturizer):
    """Lp norms of the atomic fractions (composition only, no elemental data)."""

    name = "Stoichiometry"

    def __init__(self, p_list: Sequence[float] = DEFAULT_P_LIST) -> None:
        if any(p < 0 for p in p_list):
            raise ValueError("p-norm not defined for p < 0")
        self.p_list = tuple(p_list)

    def feature_labels(self) -> list[str]:
        # matminer formats p with "%d", which truncates a fractional p; int() does the same.
        return [f"{int(p)}-norm" for p in self.p_list]

    def citations(self) -> list[str]:
        return [WARD_2016_BIBTEX]

    def feature_sources(self) -> list[dict[str, str | None]]:
        return [
            {
                "feature": label,
                "featurizer": self.name,
                "elemental_property": None,
                "statistic": "element count" if p == 0 else f"{label} of atomic fractions",
                "data_source": "composition only (no elemental data)",
                "citation": WARD_2016_SHORT,
            }
            for p, label in zip(self.p_list, self.feature_labels(), strict=True)
        ]

    def transform(self, matrix: CompositionMatrix) -> np.ndarray:
        out = np.empty((matrix.n_rows, len(self.p_list)), dtype=np.float64)
        fractions = matrix.fractions
        for column, p in enumerate(self.p_list):
            if p == 0:
                out[:, column] = np.where(matrix.valid, matrix.counts, np.nan)
            else:
                out[:, column] = matrix.reduce(np.add, fractions**p) ** (1.0 / p)
        return out
