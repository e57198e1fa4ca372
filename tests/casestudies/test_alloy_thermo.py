"""Alloy descriptors on compositions whose values are known in closed form or from the literature."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matshift.chemistry.formula import ELEMENT_SYMBOLS
from matshift.featurizers import featurize_compositions
from matshift.featurizers.alloy_thermo import GAS_CONSTANT, AlloyThermodynamics, binary_mixing_enthalpy


def features(*formulas: str):
    return featurize_compositions(list(formulas), featurizers=[AlloyThermodynamics()])


def test_equimolar_five_element_entropy_is_r_ln_5():
    row = features("Co1 Cr1 Fe1 Mn1 Ni1").iloc[0]
    assert row["hea_mixing_entropy"] == pytest.approx(GAS_CONSTANT * math.log(5))


def test_pure_element_has_no_mismatch_entropy_or_enthalpy():
    row = features("Fe").iloc[0]
    assert row["hea_size_mismatch"] == 0.0
    assert row["hea_mixing_entropy"] == 0.0
    assert row["hea_mixing_enthalpy"] == 0.0
    assert np.isnan(row["hea_omega"])  # Ω = T S / |H| is undefined at H = 0


def test_cantor_alloy_enthalpy_matches_the_literature():
    # ΔH_mix of CoCrFeMnNi from Takeuchi-Inoue pairs: -4.16 kJ/mol (e.g. Guo & Liu 2011, Table 1)
    assert features("CoCrFeMnNi").iloc[0]["hea_mixing_enthalpy"] == pytest.approx(-4.16)


def test_binary_enthalpy_is_four_h_c_c():
    # equimolar NiAl: 4 * (-22) * 0.5 * 0.5 = -22 kJ/mol
    assert features("NiAl").iloc[0]["hea_mixing_enthalpy"] == pytest.approx(-22.0)


def test_vec_size_mismatch_and_electronegativity_by_hand():
    row = features("Al1 Ni1").iloc[0]
    assert row["hea_vec"] == pytest.approx((3 + 10) / 2)
    r_al, r_ni = 143.0, 124.0
    mean = (r_al + r_ni) / 2
    delta = math.sqrt(0.5 * (1 - r_al / mean) ** 2 + 0.5 * (1 - r_ni / mean) ** 2)
    assert row["hea_size_mismatch"] == pytest.approx(delta)
    chi_al, chi_ni = 1.61, 1.91
    assert row["hea_electronegativity_difference"] == pytest.approx(abs(chi_al - chi_ni) / 2)


def test_missing_pair_gives_nan_and_a_count(monkeypatch):
    table = binary_mixing_enthalpy().copy()
    ni, al = ELEMENT_SYMBOLS.index("Ni"), ELEMENT_SYMBOLS.index("Al")
    table[ni, al] = table[al, ni] = np.nan
    monkeypatch.setattr("matshift.featurizers.alloy_thermo.binary_mixing_enthalpy", lambda: table)
    row = features("Al Co Ni").iloc[0]
    assert np.isnan(row["hea_mixing_enthalpy"]) and np.isnan(row["hea_omega"])
    assert row["hea_missing_enthalpy_pairs"] == 1


def test_enthalpy_table_matches_matminer():
    data = pytest.importorskip("matminer.utils.data")
    reference = data.MixingEnthalpy()
    table = binary_mixing_enthalpy()
    for a, b in [("Al", "Ni"), ("Co", "Cr"), ("Nb", "Ti"), ("Mo", "W"), ("Cu", "Fe")]:
        from pymatgen.core import Element

        expected = reference.get_mixing_enthalpy(Element(a), Element(b))
        assert table[ELEMENT_SYMBOLS.index(a), ELEMENT_SYMBOLS.index(b)] == expected
