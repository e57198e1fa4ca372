"""Time pretraining ``MLPRegressor`` on the Materials Project band gaps, to choose its epochs.

Reads the pipeline's outputs (run the pipeline first):

- ``data/04_feature/mp_gap/composition_features.parquet``: descriptors indexed by composition;
- ``data/03_primary/mp_gap/materials_table.parquet``: one row per MP entry (composition, target);
  a composition's label is the median over its polymorphs, as in pretraining.

A fixed 10% of the compositions is held out (never seen by ``fit``, not even for early stopping)
and its MAE reported as the validation MAE. Prints one row per setting: rows, epochs run, seconds,
validation MAE. Exits 0 with a message when the data are missing.

    python benchmarks/mlp_pretrain.py [--settings default fast] [--holdout 0.1] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from matshift.models.mlp import MLPRegressor  # noqa: E402

FEATURES = REPO_ROOT / "data" / "04_feature" / "mp_gap" / "composition_features.parquet"
MATERIALS = REPO_ROOT / "data" / "03_primary" / "mp_gap" / "materials_table.parquet"

# name -> MLPRegressor parameters on top of the defaults
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {"epochs": 12, "batch_size": 512, "learning_rate": 2e-3, "patience": 4},
    "small": {
        "hidden_layers": (128, 64),
        "epochs": 15,
        "batch_size": 512,
        "learning_rate": 2e-3,
        "patience": 4,
    },
}


def load_source() -> tuple[pd.DataFrame, pd.Series] | None:
    if not (FEATURES.is_file() and MATERIALS.is_file()):
        return None
    features = pd.read_parquet(FEATURES)
    labels = (
        pd.read_parquet(MATERIALS, columns=["composition", "target"])
        .groupby("composition")["target"]
        .median()
    )
    common = features.index.intersection(labels.index)
    return features.loc[common], labels.loc[common]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_source()
    if data is None:
        missing = f"{FEATURES.relative_to(REPO_ROOT)} / {MATERIALS.relative_to(REPO_ROOT)}"
        print(f"no source data ({missing}); skipped")
        return
    X, y = data
    held_out = np.random.default_rng(args.seed).random(len(y)) < args.holdout
    X_fit, y_fit, X_val, y_val = X[~held_out], y[~held_out], X[held_out], y[held_out]
    print(f"{len(y)} compositions, {X.shape[1]} features; {held_out.sum()} held out for the validation MAE")
    print(f"mean predictor validation MAE: {np.abs(y_val - y_fit.mean()).mean():.3f} eV\n")

    header = (
        f"{'setting':<10} {'rows':>7} {'epochs':>6} {'best':>5} {'seconds':>8} {'val MAE (eV)':>12}  params"
    )
    print(header)
    print("-" * len(header))
    for name in args.settings:
        model = MLPRegressor(random_state=args.seed, **SETTINGS[name])
        start = time.perf_counter()
        model.fit(X_fit, y_fit)
        seconds = time.perf_counter() - start
        mae = float(np.abs(model.predict(X_val) - y_val.to_numpy()).mean())
        val_losses = [record["val_loss"] for record in model.history_ if record["val_loss"] is not None]
        best = int(np.argmin(val_losses)) + 1 if val_losses else len(model.history_)
        print(
            f"{name:<10} {len(y_fit):>7} {len(model.history_):>6} {best:>5} {seconds:>8.1f} {mae:>12.3f}  "
            f"{SETTINGS[name] or '(defaults)'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
