"""Thermodynamic and size descriptors of multi-principal-element alloys (the HEA phase-formation rules).

Vectorised over a :class:`~matshift.featurizers.composition_matrix.CompositionMatrix` (atomic fractions
``c_i`` per row), each with its reference:

- ``hea_mixing_entropy``: ideal configurational entropy ΔS_mix = −R Σ c_i ln c_i (J/mol/K);
  Yeh et al., Adv. Eng. Mater. 6, 299 (2004).
- ``hea_mixing_enthalpy``: ΔH_mix = Σ_{i<j} 4 ΔH_ij c_i c_j (kJ/mol), ΔH_ij the Miedema enthalpy of the
  equiatomic binary liquid; A. Takeuchi, A. Inoue, Mater. Trans. 46, 2817 (2005). A pair missing from
  the table makes ΔH_mix (and Ω) NaN; ``hea_missing_enthalpy_pairs`` counts such pairs.
- ``hea_size_mismatch``: δ = sqrt(Σ c_i (1 − r_i / r̄)²), r̄ = Σ c_i r_i (dimensionless, not in %);
  X. Yang, Y. Zhang, Mater. Chem. Phys. 132, 233 (2012).
- ``hea_vec``: valence electron concentration Σ c_i VEC_i (Magpie ``NValence``: s + d electrons for
  transition metals); S. Guo et al., J. Appl. Phys. 109, 103505 (2011): FCC above 8, BCC below 6.87.
- ``hea_omega``: Ω = T_m ΔS_mix / |ΔH_mix|, T_m = Σ c_i T_m,i (Magpie ``MeltingT``); Yang & Zhang (2012):
  solid solution where Ω ≥ 1.1 and δ ≤ 6.6%. NaN where ΔH_mix = 0 (Ω undefined).
- ``hea_electronegativity_difference``: Δχ = sqrt(Σ c_i (χ_i − χ̄)²), Pauling (Magpie ``Electronegativity``);
  S. Fang et al., Comput. Mater. Sci. 28, 116 (2003), as used for HEAs by Guo & Liu, Prog. Nat. Sci. 21,
  433 (2011).
- ``hea_mean_melting_temperature``: T_m (K), the rule of mixtures above.

Elemental radii and binary enthalpies are small CSV files in ``matshift/chemistry/data`` (sources in
their header comments); an element missing from the radius table makes δ NaN.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

import numpy as np
import pandas as pd

from matshift.chemistry.formula import ELEMENT_SYMBOLS
from matshift.featurizers.composition_matrix import N_ELEMENTS, CompositionFeaturizer, CompositionMatrix
from matshift.featurizers.magpie import magpie_values

GAS_CONSTANT = 8.314462618  # J/(mol K)
KJ_PER_J = 1e-3
RADII_FILE = "hea_atomic_radii.csv"
ENTHALPY_FILE = "takeuchi_inoue_2005_mixing_enthalpy.csv"
ALLOY_FEATURES = (
    "hea_mixing_entropy",
    "hea_mixing_enthalpy",
    "hea_missing_enthalpy_pairs",
    "hea_size_mismatch",
    "hea_vec",
    "hea_omega",
    "hea_electronegativity_difference",
    "hea_mean_melting_temperature",
)
_REFERENCES = {
    "hea_mixing_entropy": "J.-W. Yeh et al., Adv. Eng. Mater. 6, 299 (2004)",
    "hea_mixing_enthalpy": "A. Takeuchi, A. Inoue, Mater. Trans. 46, 2817 (2005)",
    "hea_missing_enthalpy_pairs": "A. Takeuchi, A. Inoue, Mater. Trans. 46, 2817 (2005)",
    "hea_size_mismatch": "X. Yang, Y. Zhang, Mater. Chem. Phys. 132, 233 (2012)",
    "hea_vec": "S. Guo, C. Ng, J. Lu, C. T. Liu, J. Appl. Phys. 109, 103505 (2011)",
    "hea_omega": "X. Yang, Y. Zhang, Mater. Chem. Phys. 132, 233 (2012)",
    "hea_electronegativity_difference": "S. Guo, C. T. Liu, Prog. Nat. Sci. 21, 433 (2011)",
    "hea_mean_melting_temperature": "rule of mixtures of Magpie MeltingT",
}


def _data_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(files("matshift.chemistry.data").joinpath(name), comment="#")


@lru_cache(maxsize=1)
def atomic_radii() -> np.ndarray:
    """Radius (pm) per atomic number - 1; NaN where the table has none."""
    table = _data_csv(RADII_FILE)
    radii = np.full(N_ELEMENTS, np.nan)
    radii[[ELEMENT_SYMBOLS.index(e) for e in table["element"]]] = table["radius_pm"].to_numpy(float)
    return radii


@lru_cache(maxsize=1)
def binary_mixing_enthalpy() -> np.ndarray:
    """Symmetric (N_ELEMENTS, N_ELEMENTS) matrix of ΔH_ij (kJ/mol); NaN where the pair is not tabulated."""
    table = _data_csv(ENTHALPY_FILE)
    matrix = np.full((N_ELEMENTS, N_ELEMENTS), np.nan)
    a = [ELEMENT_SYMBOLS.index(e) for e in table["element_a"]]
    b = [ELEMENT_SYMBOLS.index(e) for e in table["element_b"]]
    values = table["delta_h_kj_mol"].to_numpy(float)
    matrix[a, b] = values
    matrix[b, a] = values
    np.fill_diagonal(matrix, 0.0)
    return matrix


class AlloyThermodynamics(CompositionFeaturizer):
    """Phase-formation descriptors of an alloy from its atomic fractions (see the module docstring)."""

    name = "AlloyThermodynamics"

    def citations(self) -> list[str]:
        return sorted(set(_REFERENCES.values()))

    def feature_labels(self) -> list[str]:
        return list(ALLOY_FEATURES)

    def feature_sources(self) -> list[dict[str, str]]:
        return [
            {
                "feature": label,
                "featurizer": self.name,
                "elemental_property": None,
                "statistic": label.removeprefix("hea_"),
                "data_source": f"matshift/chemistry/data ({RADII_FILE}, {ENTHALPY_FILE}) + Magpie",
                "citation": _REFERENCES[label],
            }
            for label in ALLOY_FEATURES
        ]

    def transform(self, matrix: CompositionMatrix) -> np.ndarray:
        fractions = matrix.to_dense(normalise=True)
        present = fractions > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -GAS_CONSTANT * np.where(present, fractions * np.log(fractions), 0.0).sum(axis=1)
            enthalpy, missing = _mixing_enthalpy(fractions, present)
            size_mismatch = _size_mismatch(fractions, present)
            vec = _weighted(fractions, present, magpie_values(["NValence"], impute_nan=False)[:, 0])
            melting = _weighted(fractions, present, magpie_values(["MeltingT"], impute_nan=False)[:, 0])
            chi = magpie_values(["Electronegativity"], impute_nan=False)[:, 0]
            chi_mean = _weighted(fractions, present, chi)
            chi_spread = np.sqrt(
                _weighted(fractions, present, chi[None, :] - chi_mean[:, None], squared=True)
            )
            # Ω is undefined for ΔH_mix = 0 (a pure element, or pairs with zero enthalpy): NaN, not inf
            omega = np.where(enthalpy != 0, melting * entropy * KJ_PER_J / np.abs(enthalpy), np.nan)
        return np.column_stack(
            [entropy, enthalpy, missing, size_mismatch, vec, omega, chi_spread, melting]
        ).astype(np.float64)


def _weighted(
    fractions: np.ndarray, present: np.ndarray, values: np.ndarray, squared: bool = False
) -> np.ndarray:
    """Σ c_i v_i over the elements present (v per element or per row x element); NaN if any v_i is NaN."""
    values = np.broadcast_to(values, fractions.shape)
    terms = fractions * (values**2 if squared else values)
    return np.where(present, terms, 0.0).sum(axis=1) + np.where(
        (present & np.isnan(values)).any(axis=1), np.nan, 0.0
    )


def _mixing_enthalpy(fractions: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ΔH_mix = Σ_{i<j} 4 ΔH_ij c_i c_j (= 2 c^T H c over the full symmetric H) and missing pairs."""
    table = binary_mixing_enthalpy()
    known = np.nan_to_num(table)
    enthalpy = 2.0 * np.einsum("ri,ij,rj->r", fractions, known, fractions)
    unknown = np.isnan(table).astype(float)
    missing = np.einsum("ri,ij,rj->r", present.astype(float), unknown, present.astype(float)) / 2.0
    return np.where(missing > 0, np.nan, enthalpy), missing


def _size_mismatch(fractions: np.ndarray, present: np.ndarray) -> np.ndarray:
    radii = atomic_radii()
    mean_radius = _weighted(fractions, present, radii)
    relative = 1.0 - radii[None, :] / mean_radius[:, None]
    return np.sqrt(_weighted(fractions, present, relative, squared=True))
