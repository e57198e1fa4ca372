"""Parse chemical formulas into element amounts and give each composition one canonical key.

The parser accepts what materials datasets actually contain: nested parentheses or brackets with
multipliers (``Ag(W3Br7)2``), decimal amounts (``Al0.5Ga0.5As``), hydrate dots (``CuSO4·5H2O``) and
space-separated tokens (``Al0.25 Co1 Fe1 Ni1``). It is pure Python and dependency free so that every
pipeline can call it on 100k formulas in about a second.

An amount never changes a compound's meaning silently: a zero, negative, non-finite or overflowing amount
raises ``FormulaError`` with reason ``invalid_amount``, and an element whose atomic fraction is below the
caller's declared minimum (or too small for the canonical key to show) raises ``negligible_amount``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import cache

# Symbols of elements 1-103 (the range covered by the Magpie elemental tables).
ELEMENT_SYMBOLS: tuple[str, ...] = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br "
    "Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho "
    "Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es "
    "Fm Md No Lr"
).split()
ATOMIC_NUMBER: dict[str, int] = {symbol: z for z, symbol in enumerate(ELEMENT_SYMBOLS, start=1)}

# A minus sign is read with its number so that ``Fe-1O`` is a negative amount, not a stray character.
_TOKEN = re.compile(r"([A-Z][a-z]*)|(-?\d*\.\d+|-?\d+)|([(\[{])|([)\]}])|(\s+)|(.)")
_HYDRATE_SEPARATOR = re.compile(r"\s*[·•*]\s*")
_MAX_DENOMINATOR = 1000
_CANONICAL_DECIMALS = 6  # non-rational compositions are keyed by fractions rounded to this many decimals


class FormulaError(ValueError):
    """A formula that cannot be read; ``reason`` is a short machine-readable code."""

    def __init__(self, formula: str, message: str, reason: str = "unparseable_formula"):
        super().__init__(f"formula {formula!r}: {message}")
        self.formula = formula
        self.reason = reason


def parse_formula(formula: str, min_fraction: float = 0.0) -> dict[str, float]:
    """Return ``{element: amount}`` for a formula, summing repeated elements.

    Raises ``FormulaError`` with reason ``unparseable_formula`` for malformed text,
    ``unknown_element`` for a well-formed symbol that is not an element, ``invalid_amount`` for a zero,
    negative, non-finite or overflowing amount, and ``negligible_amount`` when an element's atomic
    fraction is below ``min_fraction`` (the dataset's declared minimum).
    """
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError(str(formula), "empty formula")
    amounts: dict[str, float] = {}
    for part in _HYDRATE_SEPARATOR.split(formula.strip()):
        multiplier, body = _leading_multiplier(formula, part)
        for element, amount in _parse_group(formula, body).items():
            amounts[element] = amounts.get(element, 0.0) + multiplier * amount
    if not amounts:
        raise FormulaError(formula, "no element")
    for element, amount in amounts.items():
        if not math.isfinite(amount):
            raise FormulaError(formula, f"amount of {element} overflows", reason="invalid_amount")
    total = math.fsum(amounts.values())
    if not math.isfinite(total):
        raise FormulaError(formula, "total amount overflows", reason="invalid_amount")
    for element, amount in amounts.items():
        if amount / total < min_fraction:
            raise FormulaError(
                formula,
                f"{element} has atomic fraction {amount / total:.3g}, "
                f"below the minimum atomic fraction {min_fraction:g}",
                reason="negligible_amount",
            )
    return amounts


def _amount(formula: str, text: str) -> float:
    """A written amount: finite and positive, else ``invalid_amount`` (never dropped or clipped)."""
    value = float(text)  # float() of a long digit string gives inf rather than raising
    if not math.isfinite(value):
        raise FormulaError(formula, f"amount {text[:20]}... is too large", reason="invalid_amount")
    if value <= 0:
        raise FormulaError(formula, f"amount {text} is not positive", reason="invalid_amount")
    return value


def _leading_multiplier(formula: str, part: str) -> tuple[float, str]:
    match = re.match(r"^(\d*\.\d+|\d+)(?=[A-Z(\[])", part)
    if match is None:
        return 1.0, part
    return _amount(formula, match.group(1)), part[match.end() :]


def _parse_group(formula: str, text: str) -> dict[str, float]:
    stack: list[dict[str, float]] = [{}]
    # The element symbol or closed group read last, added once we know whether an amount follows.
    pending: dict[str, float] | None = None
    for symbol, number, opening, closing, space, other in _TOKEN.findall(text):
        if other:
            raise FormulaError(formula, f"unexpected character {other!r}")
        if space:
            continue
        if number:
            if pending is None:
                raise FormulaError(formula, f"amount {number} does not follow an element or group")
            _add_scaled(stack[-1], pending, _amount(formula, number))
            pending = None
            continue
        if pending is not None:
            _add_scaled(stack[-1], pending, 1.0)
            pending = None
        if symbol:
            if symbol not in ATOMIC_NUMBER:
                raise FormulaError(formula, f"unknown element {symbol!r}", reason="unknown_element")
            pending = {symbol: 1.0}
        elif opening:
            stack.append({})
        elif closing:
            if len(stack) == 1:
                raise FormulaError(formula, "unbalanced closing bracket")
            pending = stack.pop()
    if pending is not None:
        _add_scaled(stack[-1], pending, 1.0)
    if len(stack) != 1:
        raise FormulaError(formula, "unbalanced opening bracket")
    return stack[0]


def _add_scaled(amounts: dict[str, float], group: dict[str, float], factor: float) -> None:
    for element, amount in group.items():
        amounts[element] = amounts.get(element, 0.0) + amount * factor


def element_fractions(formula: str, min_fraction: float = 0.0) -> dict[str, float]:
    """Atomic fractions summing to one."""
    amounts = parse_formula(formula, min_fraction)
    total = math.fsum(amounts.values())
    return {element: amount / total for element, amount in amounts.items()}


@cache
def canonical_composition(formula: str, min_fraction: float = 0.0) -> str:
    """Canonical reduced formula: equal for any two formulas of the same composition.

    Elements are ordered by atomic number. Amounts are scaled to the smallest integers when they are
    rational with a denominator up to 1000 (``Fe4O6`` -> ``Fe2O3``, ``Ag0.5Ge1Pb1.75S4`` ->
    ``S16Ge4Ag2Pb7``); otherwise they are normalised to sum to one and rounded to 6 decimals.
    ``min_fraction``: see :func:`parse_formula`; a fraction too small for 6 decimals is
    ``negligible_amount`` whatever it is, since the key could not tell the compound from one without it.
    """
    amounts = parse_formula(formula, max(min_fraction, 0.5 * 10.0**-_CANONICAL_DECIMALS))
    ordered = sorted(amounts, key=ATOMIC_NUMBER.__getitem__)
    fractions = {
        element: Fraction(amounts[element]).limit_denominator(_MAX_DENOMINATOR) for element in ordered
    }
    if all(abs(float(fractions[e]) - amounts[e]) <= 1e-9 * max(1.0, amounts[e]) for e in ordered):
        scale = math.lcm(*(f.denominator for f in fractions.values()))
        integers = {element: int(f * scale) for element, f in fractions.items()}
        divisor = math.gcd(*integers.values())
        return "".join(e + _format_amount(integers[e] // divisor) for e in ordered)
    total = math.fsum(amounts.values())
    return "".join(e + _format_amount(round(amounts[e] / total, _CANONICAL_DECIMALS)) for e in ordered)


def _format_amount(amount: float) -> str:
    if amount == 1:
        return ""
    if float(amount).is_integer():
        return str(int(amount))
    return f"{amount:.{_CANONICAL_DECIMALS}f}".rstrip("0").rstrip(".")
