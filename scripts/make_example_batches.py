"""Write example plant batches for expt_gap, drawn from the embedded data, to try monitoring on.

    python scripts/make_example_batches.py [--out data/01_raw/plant/expt_gap] [--seed 0] [--hostile]

Files (columns: ``formula`` and, when labelled, ``target (eV)``):

- ``clean.csv``: 300 random measured compounds — the training distribution, no alarm expected;
- ``shifted.csv``: 300 halides (F, Cl, Br, I) — a chemistry moved: covariate shift expected;
- ``unlabelled.csv``: 200 formulas without a target — to score and to rank for measurement;
- ``malformed.csv``: 50 clean rows plus rows that validation must quarantine (unparseable formula,
  unknown element, negative and non-numeric gaps, a duplicated row);
- ``wrong_units.csv``: a gap column headed ``target (meV)`` — the whole file must be quarantined.

``--hostile`` adds malformed and hostile files (issue 13) to try the monitor's input hardening on: a
hidden file, a CRLF copy of ``clean.csv``, a 251-character and a unicode file name, overflowing, zero and
negligible amounts, formula-like text (``=cmd|...``), a binary file and an xlsx. Each one is listed in
``summary.json`` (``files``) with its reason; the binary and xlsx files fail a run with
``monitor.on_bad_file: fail``.

The batches are data, versioned by DVC with ``data/01_raw/plant/``, not committed to git. The labelled
ones are rows of the training data itself: their drift verdicts are meaningful, their errors are
in-sample (optimistic) — use them to exercise the flow, not to measure accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from matshift.chemistry.families import contains_any  # noqa: E402
from matshift.chemistry.formula import canonical_composition  # noqa: E402

SOURCE = REPO_ROOT / "data/01_raw/matbench/expt_gap.csv"
HALOGENS = ("F", "Cl", "Br", "I")
BAD_ROWS = [("Xx2O3", "1.0"), ("Na@Cl", "2.0"), ("GaAs", "-0.5"), ("ZnO", "three"), ("Si", "")]


def example_batches(expt_gap: pd.DataFrame, seed: int = 0) -> dict[str, pd.DataFrame]:
    labelled = expt_gap.rename(columns={"target": "target (eV)"})
    halide = expt_gap["formula"].map(lambda f: contains_any(canonical_composition(f), HALOGENS))
    clean = labelled[~halide].sample(300, random_state=seed)
    malformed = pd.concat(
        [
            labelled.sample(50, random_state=seed + 1),
            pd.DataFrame(BAD_ROWS, columns=["formula", "target (eV)"]),
            labelled.sample(1, random_state=seed + 2),
        ],
        ignore_index=True,
    )
    malformed = pd.concat([malformed, malformed.tail(1)], ignore_index=True)  # an exact duplicate row
    return {
        "clean": clean,
        "shifted": labelled[halide].sample(300, random_state=seed),
        "unlabelled": expt_gap[["formula"]].sample(200, random_state=seed + 3),
        "malformed": malformed,
        "wrong_units": labelled.sample(20, random_state=seed + 4).rename(
            columns={"target (eV)": "target (meV)"}
        ),
    }


def hostile_batches(clean: bytes) -> dict[str, bytes]:
    """File name -> bytes of the hostile files; ``clean``: the bytes of ``clean.csv`` (copied twice)."""
    return {
        ".hidden.csv": clean,
        "clean_crlf_copy.csv": clean.replace(b"\n", b"\r\n"),
        "x" * 247 + ".csv": b"formula,target (eV)\nSiC,2.4\n",
        "my batch (Bändlücke ✓).csv": b"formula\nCdTe\n",
        "amounts.csv": b"formula,target (eV)\nNaCl,8.5\nFe"
        + b"9" * 400
        + b"O,1\nFe0O,1\nFe0.0000000001O,1\n",
        "formula_text.csv": b"formula,target (eV)\n=cmd|' /C calc'!A0,1\n@SUM(1+1),1\nGaN,=1+1\n",
        "binary.csv": b"formula\x00\x01\x02\xff",
        "book.xlsx": b"PK\x03\x04xl/workbook.xml" + b"\x00" * 16,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data/01_raw/plant/expt_gap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hostile", action="store_true", help="also write the hostile files (issue 13)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    expt_gap = pd.read_csv(SOURCE, dtype=str, keep_default_na=False)
    for name, frame in example_batches(expt_gap, args.seed).items():
        frame.to_csv(args.out / f"{name}.csv", index=False)
        print(f"{args.out / name}.csv: {len(frame)} rows")
    if args.hostile:
        for name, data in hostile_batches((args.out / "clean.csv").read_bytes()).items():
            (args.out / name).write_bytes(data)
            print(f"{args.out / name}: hostile")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
