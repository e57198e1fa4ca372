"""Magpie elemental-property statistics, equal to matminer's ``ElementProperty.from_preset("magpie")``.

For each elemental property the statistics are weighted by the element amounts of the composition,
with matminer's definitions (``matminer.featurizers.utils.stats.PropertyStats``):

- ``minimum``, ``maximum``, ``range``: over the elements present, NaN if any value is NaN;
- ``mean``: amount-weighted mean; ``avg_dev``: amount-weighted mean of ``|x - mean|``;
- ``mode``: the value of the element with the largest amount; elements whose amounts are
  ``np.isclose`` to the largest count as tied and the smallest of their values wins.

Missing elemental values are imputed, as matminer does by default, with the mean of the property
over the elements that have it, so the features contain NaN only with ``impute_nan=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import files

import numpy as np
import pandas as pd

from matshift.featurizers.composition_matrix import N_ELEMENTS, CompositionFeaturizer, CompositionMatrix

MAGPIE_PROPERTIES: tuple[str, ...] = (
    "Number",
    "MendeleevNumber",
    "AtomicWeight",
    "MeltingT",
    "Column",
    "Row",
    "CovalentRadius",
    "Electronegativity",
    "NsValence",
    "NpValence",
    "NdValence",
    "NfValence",
    "NValence",
    "NsUnfilled",
    "NpUnfilled",
    "NdUnfilled",
    "NfUnfilled",
    "NUnfilled",
    "GSvolume_pa",
    "GSbandgap",
    "GSmagmom",
    "SpaceGroupNumber",
)
MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")

MAGPIE_DATA_SOURCE = "MagpieData (Magpie elemental tables as distributed with matminer 0.10.1)"
WARD_2016_SHORT = "L. Ward et al., npj Comput. Mater. 2, 16028 (2016)"
WARD_2016_BIBTEX = (
    "@article{ward_agrawal_choudary_wolverton_2016, title={A general-purpose machine learning framework "
    "for predicting properties of inorganic materials}, volume={2}, DOI={10.1038/npjcompumats.2016.28}, "
    "number={1}, journal={npj Computational Materials}, author={Ward, Logan and Agrawal, Ankit and "
    "Choudhary, Alok and Wolverton, Christopher}, year={2016}, pages={16028}}"
)
DEML_2016_SHORT = "A. M. Deml et al., Phys. Rev. B 93, 085142 (2016)"
DEML_2016_BIBTEX = (
    "@article{deml_ohayre_wolverton_stevanovic_2016, title={Predicting density functional theory total "
    "energies and enthalpies of formation of metal-nonmetal compounds by linear regression}, "
    "volume={93}, DOI={10.1103/PhysRevB.93.085142}, number={8}, journal={Physical Review B}, "
    "author={Deml, Ann M. and O'Hayre, Ryan and Wolverton, Chris and Stevanovi{\\'c}, Vladan}, "
    "year={2016}, pages={085142}}"
)

# np.isclose defaults, which matminer's mode uses to decide which amounts tie for the largest.
_MODE_RTOL = 1e-5
_MODE_ATOL = 1e-8


@lru_cache(maxsize=1)
def load_magpie_table() -> pd.DataFrame:
    """The packaged Magpie table: index Z = 1..103, columns ``symbol`` and 22 properties (NaN: missing)."""
    resource = files("matshift.chemistry").joinpath("data", "magpie_elements.csv")
    with resource.open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, index_col="Z")
    if list(table.index) != list(range(1, N_ELEMENTS + 1)):
        raise ValueError("magpie_elements.csv must have one row per element Z = 1..103 in order")
    return table.astype({prop: np.float64 for prop in MAGPIE_PROPERTIES})


def magpie_values(properties: Sequence[str], impute_nan: bool = True) -> np.ndarray:
    """Array ``(103, len(properties))`` of elemental values, row ``Z - 1``.

    With ``impute_nan`` missing values become the property's mean over the elements that have it,
    which is what matminer's ``MagpieData(impute_nan=True)`` does.
    """
    table = load_magpie_table()
    unknown = [prop for prop in properties if prop not in table.columns or prop == "symbol"]
    if unknown:
        raise KeyError(f"no Magpie data for {unknown}")
    values = table.loc[:, list(properties)].to_numpy(dtype=np.float64, copy=True)
    if impute_nan:
        means = np.nanmean(values, axis=0)
        rows, cols = np.nonzero(np.isnan(values))
        values[rows, cols] = means[cols]
    values.setflags(write=False)
    return values


def weighted_mean(matrix: CompositionMatrix, values: np.ndarray) -> np.ndarray:
    """Amount-weighted mean per row of per-entry ``values`` (``(nnz,)`` or ``(nnz, k)``)."""
    weights = matrix.amounts if values.ndim == 1 else matrix.amounts[:, None]
    totals = matrix.totals if values.ndim == 1 else matrix.totals[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return matrix.reduce(np.add, values * weights) / totals


class ElementProperty(CompositionFeaturizer):
    """Amount-weighted statistics of Magpie elemental properties (matminer's ``magpie`` preset)."""

    name = "ElementProperty"
    data_source_name = "MagpieData"

    def __init__(
        self,
        properties: Sequence[str] = MAGPIE_PROPERTIES,
        stats: Sequence[str] = MAGPIE_STATS,
        impute_nan: bool = True,
    ) -> None:
        unknown_stats = [stat for stat in stats if stat not in MAGPIE_STATS]
        if unknown_stats:
            raise ValueError(f"unsupported statistics {unknown_stats}; choose from {MAGPIE_STATS}")
        self.properties = tuple(properties)
        self.stats = tuple(stats)
        self.impute_nan = impute_nan
        self._values = magpie_values(self.properties, impute_nan=impute_nan)

    @classmethod
    def from_preset(cls, preset_name: str = "magpie", impute_nan: bool = True) -> ElementProperty:
        """Only matminer's ``magpie`` preset is provided."""
        if preset_name != "magpie":
            raise ValueError(f"only the 'magpie' preset is implemented, not {preset_name!r}")
        return cls(MAGPIE_PROPERTIES, MAGPIE_STATS, impute_nan=impute_nan)

    def feature_labels(self) -> list[str]:
        # Property-major order, as in matminer.
        return [f"{self.data_source_name} {stat} {prop}" for prop in self.properties for stat in self.stats]

    def citations(self) -> list[str]:
        return [WARD_2016_BIBTEX]

    def feature_sources(self) -> list[dict[str, str | None]]:
        return [
            {
                "feature": f"{self.data_source_name} {stat} {prop}",
                "featurizer": self.name,
                "elemental_property": prop,
                "statistic": stat,
                "data_source": MAGPIE_DATA_SOURCE,
                "citation": WARD_2016_SHORT,
            }
            for prop in self.properties
            for stat in self.stats
        ]

    def transform(self, matrix: CompositionMatrix) -> np.ndarray:
        # (n, n_properties, n_stats) so that flattening gives matminer's property-major columns.
        out = np.full((matrix.n_rows, len(self.properties), len(self.stats)), np.nan)
        for rows, entries in matrix.blocks:
            values = self._values[matrix.element_index[entries]]  # (n_k, k, n_properties)
            computed = self._block_stats(values, matrix.amounts[entries])
            out[rows] = np.stack([computed[stat] for stat in self.stats], axis=-1)
        return out.reshape(matrix.n_rows, -1)

    def _block_stats(self, values: np.ndarray, amounts: np.ndarray) -> dict[str, np.ndarray]:
        """Statistics of ``values`` ``(n, k, p)`` weighted by ``amounts`` ``(n, k)``; each ``(n, p)``."""
        computed: dict[str, np.ndarray] = {}
        # np.min/np.max propagate NaN, matching matminer's "NaN if any value is NaN".
        computed["minimum"] = values.min(axis=1)
        computed["maximum"] = values.max(axis=1)
        computed["range"] = computed["maximum"] - computed["minimum"]
        weights = amounts[:, :, None]
        total = weights.sum(axis=1)
        # np.average's formula: sum(w * x) / sum(w).
        mean = (values * weights).sum(axis=1) / total
        computed["mean"] = mean
        if "avg_dev" in self.stats:
            computed["avg_dev"] = (np.abs(values - mean[:, None, :]) * weights).sum(axis=1) / total
        if "mode" in self.stats:
            # matminer: entries whose amount is np.isclose to the largest tie; the smallest value wins.
            largest = amounts.max(axis=1, keepdims=True)
            tied = np.abs(amounts - largest) <= _MODE_ATOL + _MODE_RTOL * np.abs(largest)
            # Untied entries cannot win; a tied NaN still propagates, as in matminer's ndarray.min().
            computed["mode"] = np.where(tied[:, :, None], values, np.inf).min(axis=1)
        return computed
