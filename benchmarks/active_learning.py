"""Active learning on the embedded band gaps: does measuring the uncertain samples first pay off?

Pool = one held-out cluster of ``leave_cluster_out`` (a new chemistry the model has not seen); the
model starts from the other clusters and gets ``--k`` pool labels per round. After each round it is
refitted and scored on the pool rows still unlabelled. Strategies: ``random``, ``uncertainty``
(CatBoost virtual-ensemble spread, pure) and ``uncertainty+diversity`` (matshift.monitoring's batch
selection). Model: CatBoost with RMSEWithUncertainty on descriptors + MP lookup/source columns.
Needs a finished ``kedro run`` (reads the catalog's files). Prints MAE vs labels used.

    python benchmarks/active_learning.py [--clusters 0 1] [--rounds 5] [--k 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from matshift.models.design import transfer_design_matrix  # noqa: E402
from matshift.monitoring.active_learning import select_batch  # noqa: E402
from matshift.uncertainty.ensembles import CatBoostUncertaintyRegressor  # noqa: E402

DATA = REPO_ROOT / "data"
STRATEGIES = {"random": None, "uncertainty": 0.0, "uncertainty+diversity": 0.5}


def load():
    table = pd.read_parquet(DATA / "03_primary/expt_gap/materials_table.parquet")
    features = pd.read_parquet(DATA / "04_feature/expt_gap/composition_features.parquet")
    source = pd.read_parquet(DATA / "07_model_output/expt_gap/source_feature_table.parquet")
    splits = pd.read_parquet(DATA / "05_model_input/expt_gap/splits.parquet")
    X, y, _ = transfer_design_matrix(table, features, source)
    return X, y, splits[splits["split"] == "leave_cluster_out"]


def run_cluster(X, y, splits, cluster, rounds, k, seed, iterations):
    rows = splits[splits["fold"] == cluster]
    train = rows.loc[rows["role"] == "train", "sample_id"].to_numpy()
    pool = rows.loc[rows["role"] == "test", "sample_id"].to_numpy()
    params = {
        "catboost_params": {"iterations": iterations, "learning_rate": 0.1},
        "virtual_ensembles_count": 10,
    }
    results = []
    for strategy, diversity in STRATEGIES.items():
        rng = np.random.default_rng(seed)
        labelled = np.array([], dtype=object)
        for round_number in range(rounds + 1):
            fitted = np.r_[train, labelled]
            model = CatBoostUncertaintyRegressor(**params, random_state=seed).fit(
                X.loc[fitted], y.loc[fitted]
            )
            remaining = np.setdiff1d(pool, labelled)
            prediction, spread = model.predict(X.loc[remaining], return_std=True)
            mae = float(np.mean(np.abs(np.clip(prediction, 0, None) - y.loc[remaining].to_numpy())))
            results.append({"cluster": cluster, "strategy": strategy, "labels": len(labelled), "mae": mae})
            if round_number == rounds:
                break
            if diversity is None:
                picks = rng.choice(len(remaining), size=min(k, len(remaining)), replace=False)
            else:
                picks = select_batch(
                    X.loc[remaining].to_numpy(), spread, k, X.loc[fitted].to_numpy(), diversity
                )
            labelled = np.r_[labelled, remaining[picks]]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    if not (DATA / "07_model_output/expt_gap/source_feature_table.parquet").exists():
        print("no pipeline outputs: run `kedro run` first; skipped")
        return 0
    X, y, splits = load()
    results = [
        row
        for cluster in args.clusters
        for row in run_cluster(X, y, splits, cluster, args.rounds, args.k, args.seed, args.iterations)
    ]
    table = pd.DataFrame(results).pivot_table(index=["cluster", "labels"], columns="strategy", values="mae")
    print("MAE (eV) on the unlabelled rest of the held-out cluster vs pool labels used")
    print(table.round(3).to_string())
    final = table.groupby(level="cluster").tail(1).mean()
    print("mean_final_mae: " + ", ".join(f"{name}={value:.3f}" for name, value in final.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
