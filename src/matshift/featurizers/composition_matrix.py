"""Formulas -> a sparse composition matrix over elements Z = 1..103.

Every featurizer in this package works on the same matrix, stored in CSR layout (row pointer,
element column, amount) so that per-composition statistics are segment reductions over a few
entries per row instead of reductions over 103 mostly-zero columns. Each distinct formula is
parsed once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import scipy.sparse as sp

from matshift.chemistry.formula import ATOMIC_NUMBER, ELEMENT_SYMBOLS, FormulaError, parse_formula

N_ELEMENTS = len(ELEMENT_SYMBOLS)


@dataclass(frozen=True, eq=False)
class CompositionMatrix:
    """Element amounts of ``n`` compositions in CSR layout.

    Row ``i`` holds entries ``indptr[i]:indptr[i + 1]`` of ``element_index`` (``Z - 1``, ascending)
    and ``amounts`` (amounts as written in the formula, not normalised). A row is empty when its
    formula could not be parsed (``valid[i]`` is False).
    """

    formulas: tuple[str, ...]
    indptr: np.ndarray
    element_index: np.ndarray
    amounts: np.ndarray

    def __post_init__(self) -> None:
        if len(self.indptr) != len(self.formulas) + 1 or len(self.element_index) != len(self.amounts):
            raise ValueError("inconsistent CSR arrays")

    @property
    def n_rows(self) -> int:
        return len(self.formulas)

    @cached_property
    def counts(self) -> np.ndarray:
        """Number of elements in each row."""
        return np.diff(self.indptr)

    @cached_property
    def valid(self) -> np.ndarray:
        """True for rows with at least one element (i.e. whose formula parsed)."""
        return self.counts > 0

    @cached_property
    def row_of_entry(self) -> np.ndarray:
        """Row number of every stored entry."""
        return np.repeat(np.arange(self.n_rows), self.counts)

    @cached_property
    def totals(self) -> np.ndarray:
        """Total amount (atoms per formula unit as written) of each row; 0 for invalid rows."""
        return np.bincount(self.row_of_entry, weights=self.amounts, minlength=self.n_rows)

    @cached_property
    def fractions(self) -> np.ndarray:
        """Atomic fraction of every stored entry (rows sum to one)."""
        return self.amounts / self.totals[self.row_of_entry]

    @cached_property
    def blocks(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Rows grouped by their number of elements ``k``: ``(rows, entries)`` with ``entries`` of shape
        ``(len(rows), k)`` indexing ``element_index``/``amounts``.

        Reductions over a regular ``(n, k)`` block are about twice as fast as ``ufunc.reduceat`` over
        ragged segments, and there are only a handful of distinct ``k``.
        """
        counts = self.counts
        blocks = []
        for k in np.unique(counts[counts > 0]):
            rows = np.flatnonzero(counts == k)
            blocks.append((rows, self.indptr[rows][:, None] + np.arange(k)))
        return blocks

    def reduce(self, ufunc: np.ufunc, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Reduce per-entry ``values`` (shape ``(nnz,)`` or ``(nnz, m)``) over each row with ``ufunc``.

        Rows without entries (unparseable formulas) get ``fill``.
        """
        values = np.asarray(values)
        out = np.full((self.n_rows, *values.shape[1:]), fill, dtype=np.result_type(values, np.float64))
        for rows, entries in self.blocks:
            out[rows] = ufunc.reduce(values[entries], axis=1)
        return out

    def to_dense(self, normalise: bool = True) -> np.ndarray:
        """Dense ``(n, 103)`` matrix of atomic fractions (or raw amounts with ``normalise=False``)."""
        dense = np.zeros((self.n_rows, N_ELEMENTS))
        dense[self.row_of_entry, self.element_index] = self.fractions if normalise else self.amounts
        return dense

    def to_scipy(self, normalise: bool = True) -> sp.csr_matrix:
        """``scipy.sparse`` CSR matrix of atomic fractions (or raw amounts)."""
        data = self.fractions if normalise else self.amounts
        return sp.csr_matrix(
            (data, self.element_index, self.indptr), shape=(self.n_rows, N_ELEMENTS), copy=True
        )


def unique_formulas(formulas: Sequence[str]) -> tuple[str, ...]:
    """Distinct formulas in order of first appearance."""
    if isinstance(formulas, str):
        # A bare string is a sequence of characters; featurizing "NaCl" letter by letter is never meant.
        raise TypeError("expected a sequence of formulas, got a single string")
    return tuple(dict.fromkeys(formulas))


def build_composition_matrix(
    formulas: Sequence[str],
    errors: Literal["raise", "nan"] = "raise",
    parser: Callable[[str], dict[str, float]] = parse_formula,
) -> CompositionMatrix:
    """Parse each distinct formula once into a :class:`CompositionMatrix` (rows = distinct formulas).

    With ``errors="raise"`` an unreadable formula raises ``FormulaError``; with ``errors="nan"`` it
    becomes an empty row, which every featurizer turns into NaN features.
    """
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan', not {errors!r}")
    distinct = unique_formulas(formulas)
    counts = np.zeros(len(distinct), dtype=np.int64)
    columns: list[int] = []
    amounts: list[float] = []
    for row, formula in enumerate(distinct):
        try:
            parsed = parser(formula)
        except FormulaError:
            if errors == "raise":
                raise
            continue
        # Ascending Z gives every row the same canonical entry order, whatever the formula's order.
        for element in sorted(parsed, key=ATOMIC_NUMBER.__getitem__):
            columns.append(ATOMIC_NUMBER[element] - 1)
            amounts.append(parsed[element])
        counts[row] = len(parsed)
    indptr = np.zeros(len(distinct) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return CompositionMatrix(
        formulas=distinct,
        indptr=indptr,
        element_index=np.asarray(columns, dtype=np.int64),
        amounts=np.asarray(amounts, dtype=np.float64),
    )


class CompositionFeaturizer(ABC):
    """A featurizer of composition matrices that knows its labels, data sources and citations."""

    #: Name used in the ``featurizer`` column of :func:`matshift.featurizers.feature_sources`.
    name: str = ""

    @abstractmethod
    def feature_labels(self) -> list[str]:
        """Feature names, in the column order of :meth:`transform`."""

    @abstractmethod
    def citations(self) -> list[str]:
        """BibTeX entries to cite when using these features."""

    @abstractmethod
    def feature_sources(self) -> list[dict[str, str | None]]:
        """One record per feature: elemental property, statistic, data source and citation."""

    @abstractmethod
    def transform(self, matrix: CompositionMatrix) -> np.ndarray:
        """Features of every row of ``matrix`` as a float64 array of shape ``(n_rows, n_features)``."""
