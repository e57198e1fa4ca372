"""Do the shift-calibrated intervals and the learned ``uncertain`` flag hold under shift?

Per OOD split of a dataset (``--dataset``: ``expt_gap`` or a case study) and per fold: the robust
stage's shift-calibrated model (``matshift.robust.fold_scoring.shift_calibrated_model``, settings from
the dataset's robust parameters: ``parameters_robust.yml`` / ``parameters_case_studies.yml``
``shift_calibrated``) is fitted on the training fold (inner folds grouped like the split's shift;
interval method and flag threshold chosen on inner folds only) and scored on the test fold, whose labels
are read only to score. The in-distribution width is the same procedure on the dataset's
``in_distribution_split`` (``matbench_cv`` / ``paper_group_cv``). A baseline row per split is the
current practice: split conformal calibrated on random (composition-grouped) inner folds.

Prints, per split, the fold-averaged metrics against the issue-12 targets: coverage_90 in [0.87, 0.93],
every group >= 0.80, width <= 2x in-distribution, flag AUROC >= 0.80 (``flag_auroc_error``: error above
the fold median, non-zero targets), unflagged miss rate <= 12%.

``--signals`` adds, per split, how well each of the flag's inputs alone ranks the test errors
(``flag_auroc_error`` of that input, fold-averaged) and the best of them with its sign chosen *on the
test labels* (``hindsight_best``), and ``hindsight_combined``: a logistic regression on all of them
fitted to the test fold's own labels and scored in-sample, a ceiling for any linear flag on these
inputs (the learned flag is one). Where even that stays below 0.80 the target needs new signals, not a
better classifier.

Cheap by default for 2 cores (state it with the numbers): training folds subsampled to
``--max-train-rows`` rows, ``--iterations`` CatBoost trees, descriptors (and declared process columns)
only; ``--with-transfer`` adds the MP lookup / source columns (``expt_gap``, needs the pretrain stage's
output). Measured with the defaults on ``expt_gap`` on the shared 2-core machine (load average ~10,
other jobs running): 578 s with ``--no-baseline``, 1630 s with the baseline (twice the fits);
``--max-train-rows 1000 --iterations 100`` roughly halves it. A case study (~500 alloys) takes 1-3
minutes. Needs the split stage's outputs:

    kedro run --pipeline expt_gap --to-outputs expt_gap.splits
    python benchmarks/uncertainty_under_shift.py [--max-train-rows 1500] [--iterations 150] [--id-folds 2]
    python benchmarks/uncertainty_under_shift.py --dataset hea_hardness --no-baseline --signals
    python benchmarks/uncertainty_under_shift.py --dataset electrolyte_conductivity --key vtf_shift
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from kedro.config import OmegaConfigLoader  # noqa: E402

from matshift.models.design import model_inputs, sample_groups  # noqa: E402
from matshift.robust.fold_scoring import shift_calibrated_model, shift_values  # noqa: E402
from matshift.splits import split_folds  # noqa: E402
from matshift.transfer.strategies import descriptor_columns  # noqa: E402
from matshift.uncertainty.metrics import error_flag_auroc, interval_metrics  # noqa: E402

DATA = REPO_ROOT / "data"
COLUMNS = (
    "coverage_90",
    "coverage_90_nonzero",
    "coverage_90_min_group",
    "width_90",
    "interval_width_ratio",
    "flag_auroc",
    "flag_auroc_nonzero",
    "flag_auroc_error",
    "unflagged_miss_rate",
    "flag_rate",
)


@dataclass
class Benchmark:
    """One dataset's inputs as its robust stage sees them; ``y`` in the units the models learn
    (``target.learn_as``), ``scale``/``offset`` map predictions back to the declared unit."""

    X: pd.DataFrame
    y: pd.Series
    group: pd.Series
    composition: pd.Series
    table: pd.DataFrame
    splits: pd.DataFrame
    params: dict
    clip: tuple[float, float]
    offset: float
    scale: float
    id_split: str
    ood_splits: list[str]


def load(dataset: str, with_transfer: bool) -> Benchmark:
    parameters = OmegaConfigLoader(str(REPO_ROOT / "conf"), base_env="base", default_run_env="local")[
        "parameters"
    ]
    declaration = parameters["datasets"][dataset]
    domain = parameters["case_studies"] if declaration.get("case_study") else parameters
    paths = {
        "table": DATA / f"03_primary/{dataset}/materials_table.parquet",
        "features": DATA / f"04_feature/{dataset}/composition_features.parquet",
        "splits": DATA / f"05_model_input/{dataset}/splits.parquet",
    }
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        sys.exit(
            f"missing {missing}: run `kedro run --pipeline {dataset} --to-outputs {dataset}.splits` first"
        )
    table = pd.read_parquet(paths["table"])
    features = pd.read_parquet(paths["features"])
    if with_transfer:
        from matshift.models.design import transfer_design_matrix

        source = pd.read_parquet(DATA / f"07_model_output/{dataset}/source_feature_table.parquet")
        X, y, _ = transfer_design_matrix(table, features, source)
    else:
        X, y = model_inputs(table, features)
    scaling = declaration["target"].get("learn_as") or {}
    offset, scale = float(scaling.get("offset", 0.0)), float(scaling.get("scale", 1.0))
    low, high = declaration["target"]["min"], declaration["target"]["max"]
    id_split = domain["evaluate"]["in_distribution_split"]
    return Benchmark(
        X=X,
        y=(y - offset) / scale,
        group=table.set_index("sample_id")["group"],
        composition=sample_groups(table, declaration),
        table=table.set_index("sample_id"),
        splits=pd.read_parquet(paths["splits"]),
        params=domain["robust"],
        clip=((low - offset) / scale, (high - offset) / scale),
        offset=offset,
        scale=scale,
        id_split=id_split,
        ood_splits=[split for split in declaration["splits"] if split != id_split],
    )


def with_budget(params: dict, iterations: int, inner_folds: int) -> dict:
    params = copy.deepcopy(params)
    spec = params["shift_calibrated"]
    spec["estimator_params"]["catboost_params"]["iterations"] = iterations
    spec["n_inner_folds"] = inner_folds
    return params


def signal_aurocs(target: np.ndarray, prediction: np.ndarray, signals: pd.DataFrame) -> dict[str, float]:
    """``flag_auroc_error`` of each signal alone (error above the median, non-zero targets), and
    ``hindsight_combined``: of a logistic regression on all of them fitted *to this fold's own labels*
    and scored in-sample, the best any linear flag on these inputs could rank this fold."""
    aurocs = {
        f"signal_{name}": error_flag_auroc(target, prediction, values.to_numpy())
        for name, values in signals.items()
    }
    nonzero = np.asarray(target) != 0
    error = np.abs(np.asarray(target) - np.asarray(prediction))[nonzero]
    large = error > np.median(error)
    inputs = signals[nonzero].replace([np.inf, -np.inf], np.nan)
    inputs = inputs.fillna(inputs.median()).fillna(0.0)
    if large.any() and not large.all():
        hindsight = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(inputs, large)
        aurocs["hindsight_combined"] = float(roc_auc_score(large, hindsight.predict_proba(inputs)[:, 1]))
    return aurocs


def fold_result(model, data: Benchmark, split: str, train_ids, test_ids, signals: bool) -> dict[str, float]:
    values = shift_values(data.params, split, data.table)
    model.fit(
        data.X.loc[train_ids],
        data.y.loc[train_ids].to_numpy(),
        compositions=data.composition.loc[train_ids].to_numpy(),
        groups=data.group.loc[train_ids].to_numpy(),
        shift_values=None if values is None else values.loc[train_ids].to_numpy(),
    )
    X_test, groups = data.X.loc[test_ids], data.group.loc[test_ids].to_numpy()
    out = model.predict_with_uncertainty(X_test, groups)
    in_unit = {key: out[key] * data.scale + data.offset for key in ("prediction", "lower", "upper")}
    target = data.y.loc[test_ids].to_numpy() * data.scale + data.offset
    metrics = interval_metrics(
        target,
        in_unit["prediction"],
        in_unit["lower"],
        in_unit["upper"],
        out["ood_score"],
        groups,
        data.params["min_group_size"],
        uncertain=out["uncertain"],
    )
    metrics["mae"] = float(np.mean(np.abs(in_unit["prediction"] - target)))
    metrics["method"] = model.method_
    if signals:
        inputs = model.flag_inputs(X_test).assign(interval_width=in_unit["upper"] - in_unit["lower"])
        metrics.update(signal_aurocs(target, in_unit["prediction"], inputs))
    return metrics


def run_split(split: str, data: Benchmark, args, baseline: bool) -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(args.seed)
    params = with_budget(data.params, args.iterations, args.inner_folds)
    for split_name, fold, _, train_ids, test_ids in split_folds(data.splits[data.splits["split"] == split]):
        if split == data.id_split and fold >= args.id_folds:
            continue
        if len(train_ids) > args.max_train_rows:  # the stated subsample: a cheap run on 2 cores
            train_ids = rng.choice(train_ids, args.max_train_rows, replace=False)
        model = shift_calibrated_model(params, data.clip, split_name, descriptor_columns(data.X), args.key)
        if baseline:  # current practice: split conformal on random held-out compositions
            model.set_params(grouping="composition", interval_methods=("split",))
        result = fold_result(model, data, split_name, train_ids, test_ids, args.signals and not baseline)
        rows.append({"split": split, "fold": fold, **result})
        kind = "baseline" if baseline else "shift"
        print(
            f"  {split} fold {fold} {kind}: coverage {result['coverage_90']:.3f}, width "
            f"{result['width_90']:.3f}, error AUROC {result['flag_auroc_error']:.3f}, {result['method']}",
            flush=True,
        )
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame, id_width: float, label: str) -> dict:
    signals = [c for c in results if c.startswith("signal_")]
    hindsight_columns = [c for c in ("hindsight_combined",) if c in results]
    summary = {
        "model": label,
        **results[[c for c in COLUMNS if c in results] + signals + hindsight_columns].mean().to_dict(),
    }
    summary["interval_width_ratio"] = summary["width_90"] / id_width
    summary["mae"] = results["mae"].mean()
    summary["methods"] = ",".join(results["method"])
    if signals:  # per fold the best single input, its direction read off the test labels
        hindsight = results[signals].apply(lambda row: np.maximum(row, 1 - row).max(), axis=1)
        summary["hindsight_best"] = float(hindsight.mean())
    return summary


def targets_met(row: dict) -> str:
    checks = {
        "coverage": 0.87 <= row["coverage_90"] <= 0.93,
        "groups": row["coverage_90_min_group"] >= 0.80,
        "width": row["interval_width_ratio"] <= 2.0,
        "auroc": row["flag_auroc_error"] >= 0.80,
        "miss": row["unflagged_miss_rate"] <= 0.12,
    }
    return " ".join(f"{k}:{'yes' if ok else 'NO'}" for k, ok in checks.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="expt_gap", help="a declared dataset with splits")
    parser.add_argument("--max-train-rows", type=int, default=1500)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--inner-folds", type=int, default=4)
    parser.add_argument("--id-folds", type=int, default=2, help="in-distribution folds for the ID width")
    parser.add_argument("--splits", nargs="+", default=None, help="default: the dataset's OOD splits")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--signals", action="store_true", help="each flag input's AUROC alone, and the ceiling"
    )
    parser.add_argument("--with-transfer", action="store_true")
    parser.add_argument(
        "--key", default=None, help="a shift_calibrated variant (e.g. vtf_shift); default: the main key"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    data = load(args.dataset, args.with_transfer)
    print(
        f"{args.dataset}, {'transfer design matrix' if args.with_transfer else 'descriptors (+ process)'}, "
        f"training folds subsampled to {args.max_train_rows} rows, CatBoost {args.iterations} trees, "
        f"{args.inner_folds} inner folds; ID width from {args.id_folds} {data.id_split} folds"
    )
    in_distribution = run_split(data.id_split, data, args, False)
    id_width = float(in_distribution["width_90"].mean())
    baseline_id_width = id_width
    if not args.no_baseline:
        baseline_id_width = float(run_split(data.id_split, data, args, True)["width_90"].mean())
    print(
        f"in-distribution: coverage_90 {in_distribution['coverage_90'].mean():.3f}, width_90 {id_width:.3f}"
    )

    table = []
    for split in args.splits or data.ood_splits:
        row = {"split": split, **summarise(run_split(split, data, args, False), id_width, "shift_calibrated")}
        table.append({**row, "targets": targets_met(row)})
        if not args.no_baseline:
            baseline = run_split(split, data, args, True)
            row = {"split": split, **summarise(baseline, baseline_id_width, "random_split_conformal")}
            table.append({**row, "targets": targets_met(row)})
    frame = pd.DataFrame(table)
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 60):
        for split, rows in frame.groupby("split", sort=False):
            print(f"\n== {split}")
            print(
                rows.drop(columns="split").set_index("model").T.to_string(float_format=lambda v: f"{v:.3f}")
            )
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
