"""How often the monitor's covariate-shift alarm fires on batches that did not shift, and on batches that did.

The alarm is ``monitoring.drift.domain_classifier_drift`` + ``diagnose_shift`` with the monitor's settings
(``conf/base/parameters_monitor.yml``: 49 permutations, alpha 0.05, min AUC 0.6, at most 2,000 reference
rows) on the descriptors of the embedded ``expt_gap.csv``. A fifth of the compositions is held out; the
reference is the rest. Each trial draws one batch of ``--rows`` rows:

- *in distribution*: held-out compositions drawn at random (an alarm here is a false alarm);
- *one chemistry*: held-out compositions of a single anion class, in turn each class with enough
  held-out compositions (oxides, chalcogenides, intermetallics...; an alarm here is a detected shift).

Run inside the venv: ``python benchmarks/drift_alarms.py [--trials 30] [--rows 40]``; prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from matshift.chemistry.families import anion_class
from matshift.chemistry.formula import FormulaError, canonical_composition
from matshift.featurizers import featurize_compositions
from matshift.monitoring.drift import diagnose_shift, domain_classifier_drift

REPO_ROOT = Path(__file__).resolve().parents[1]


def descriptors() -> tuple[pd.DataFrame, np.ndarray]:
    """One row per parseable composition of expt_gap.csv: its descriptors, and its anion class."""
    formulas = pd.read_csv(REPO_ROOT / "data/01_raw/matbench/expt_gap.csv")["formula"]
    compositions = []
    for formula in formulas:
        try:
            compositions.append(canonical_composition(formula))
        except FormulaError:
            continue
    unique = list(dict.fromkeys(compositions))
    features = featurize_compositions(unique).reset_index(drop=True)
    return features, np.array([anion_class(c) for c in unique])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--rows", type=int, default=40)
    args = parser.parse_args()
    drift = yaml.safe_load((REPO_ROOT / "conf/base/parameters_monitor.yml").read_text())["monitor"]["drift"]
    features, classes = descriptors()
    rng = np.random.default_rng(0)
    held = rng.random(len(features)) < 0.2
    reference = features[~held]
    counts = pd.Series(classes[held]).value_counts()
    chemistries = list(counts.index[counts >= args.rows])
    cases = {
        "in distribution": lambda trial, r: r.choice(np.flatnonzero(held), args.rows, replace=False),
        "one chemistry": lambda trial, r: r.choice(
            np.flatnonzero(held & (classes == chemistries[trial % len(chemistries)])),
            args.rows,
            replace=False,
        ),
    }
    print(
        f"reference {len(reference)} compositions, {held.sum()} held out;",
        f"{args.trials} batches of {args.rows} rows; one chemistry of {chemistries}",
    )
    print(f"{'batches':<18}{'alarm rate':>11}{'mean AUC':>10}{'s per test':>12}")
    for name, draw in cases.items():
        alarms, aucs, start = 0, [], time.perf_counter()
        for trial in range(args.trials):
            batch = features.iloc[draw(trial, np.random.default_rng(100 + trial))]
            domain = domain_classifier_drift(
                reference,
                batch,
                n_permutations=drift["n_permutations"],
                max_reference_rows=drift["max_reference_rows"],
                random_state=trial,
            )
            alarms += diagnose_shift(domain, alpha=drift["alpha"], min_auc=drift["min_auc"]).covariate
            aucs.append(domain["auc"])
        seconds = (time.perf_counter() - start) / args.trials
        print(f"{name:<18}{alarms / args.trials:>11.3f}{np.mean(aucs):>10.3f}{seconds:>12.3f}")


if __name__ == "__main__":
    main()
