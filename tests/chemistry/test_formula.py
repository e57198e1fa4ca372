import pytest

from matshift.chemistry.families import anion_class, contains_any
from matshift.chemistry.formula import FormulaError, canonical_composition, element_fractions, parse_formula


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("NaCl", {"Na": 1, "Cl": 1}),
        ("Ag(W3Br7)2", {"Ag": 1, "W": 6, "Br": 14}),
        ("Ca3[PO4]2", {"Ca": 3, "P": 2, "O": 8}),
        ("Al0.5Ga0.5As", {"Al": 0.5, "Ga": 0.5, "As": 1}),
        ("CuSO4·5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("Al0.25 Co1 Fe1 Ni1", {"Al": 0.25, "Co": 1, "Fe": 1, "Ni": 1}),
        ("FeOFe", {"Fe": 2, "O": 1}),
    ],
)
def test_parse_formula(formula, expected):
    assert parse_formula(formula) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("Xx2O", "unknown_element"),
        ("Fe(O", "unparseable_formula"),
        ("Fe2)O", "unparseable_formula"),
        ("Fe$O", "unparseable_formula"),
        ("", "unparseable_formula"),
        ("2", "unparseable_formula"),
    ],
)
def test_bad_formulas_raise_with_reason(formula, reason):
    with pytest.raises(FormulaError) as error:
        parse_formula(formula)
    assert error.value.reason == reason


def test_canonical_composition_is_equal_for_equal_compositions():
    assert canonical_composition("Fe4O6") == canonical_composition("O3Fe2") == "O3Fe2"
    assert canonical_composition("Cu1.8S1") == canonical_composition("Cu9S5")
    assert canonical_composition("Ag0.5Ge1Pb1.75S4") == "S16Ge4Ag2Pb7"
    assert canonical_composition("NaCl") != canonical_composition("NaCl2")


def test_element_fractions_sum_to_one():
    assert sum(element_fractions("Ag(W3Br7)2").values()) == pytest.approx(1.0)


def test_anion_class_and_family_membership():
    assert anion_class("Fe2O3") == "oxide"
    assert anion_class("CdTe") == "chalcogenide"
    assert anion_class("GaAs") == "pnictide"
    assert anion_class("Ni3Al") == "intermetallic"
    assert anion_class("Si") == "element"
    assert contains_any("NaCl", ["Cl", "Br"]) and not contains_any("NaCl", ["O"])


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("Fe" + "9" * 400 + "O", "invalid_amount"),  # float() gives inf: no OverflowError, no crash
        ("(Fe" + "9" * 200 + ")" + "9" * 200 + "O", "invalid_amount"),  # finite amounts, product overflows
        ("Fe0O", "invalid_amount"),  # an explicit zero is not elemental oxygen
        ("Fe0.0O", "invalid_amount"),
        ("Fe-1O", "invalid_amount"),
        ("0H2O", "invalid_amount"),
        ("Fe0.0000000001O", "negligible_amount"),  # below what the canonical key can show
        ("Fe" + "9" * 300 + "O", "negligible_amount"),  # O at 1e-300
    ],
)
def test_amounts_that_would_change_the_compound_raise_with_reason(formula, reason):
    with pytest.raises(FormulaError) as error:
        canonical_composition(formula)
    assert error.value.reason == reason


def test_declared_minimum_atomic_fraction():
    assert parse_formula("Ga0.001Te1Pb0.999") == pytest.approx({"Ga": 0.001, "Te": 1, "Pb": 0.999})
    with pytest.raises(FormulaError, match="Ga has atomic fraction 0.0005") as error:
        canonical_composition("Ga0.001Te1Pb0.999", 1e-3)
    assert error.value.reason == "negligible_amount"
    assert canonical_composition("Ga0.001Te1Pb0.999", 1e-5) == "GaTe1000Pb999"
