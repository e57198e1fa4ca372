"""Element families and the chemical class of a composition (used for groups and element hold-outs)."""

from __future__ import annotations

from collections.abc import Iterable

from matshift.chemistry.formula import parse_formula

# Anion classes are checked in this order: a composition belongs to the first class whose anion it
# contains (an oxyhalide is an oxide, a sulfide-halide a chalcogenide). This mirrors how band-gap
# chemists group compounds: the most electronegative constituent sets the valence band.
ANION_CLASSES: dict[str, tuple[str, ...]] = {
    "fluoride": ("F",),
    "oxide": ("O",),
    "halide": ("Cl", "Br", "I"),
    "chalcogenide": ("S", "Se", "Te"),
    "pnictide": ("N", "P", "As", "Sb"),
    "hydride": ("H",),
    "carbide_boride_silicide": ("C", "B", "Si"),
}
NO_ANION_CLASS = "intermetallic"


def anion_class(composition: str) -> str:
    """Chemical class of a composition by its anion, e.g. ``Fe2O3`` -> ``oxide``."""
    elements = set(parse_formula(composition))
    if len(elements) == 1:
        return "element"
    for name, anions in ANION_CLASSES.items():
        if elements.intersection(anions):
            return name
    return NO_ANION_CLASS


def contains_any(composition: str, elements: Iterable[str]) -> bool:
    return not set(parse_formula(composition)).isdisjoint(elements)


def n_elements_class(composition: str) -> str:
    """``unary``, ``binary``, ``ternary`` or ``quaternary+``."""
    n = len(parse_formula(composition))
    return {1: "unary", 2: "binary", 3: "ternary"}.get(n, "quaternary+")


# Named ways to derive the `group` column from the composition, for datasets without a group column.
GROUP_DERIVATIONS = {"anion_class": anion_class, "n_elements": n_elements_class}
