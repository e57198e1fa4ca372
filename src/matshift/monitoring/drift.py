"""Drift of a batch against a reference (the training data), and which kind of shift it is.

Univariate: the population stability index (PSI; bins are the reference's deciles) and the
Wasserstein distance in units of the reference's standard deviation, per feature. Multivariate: a
domain classifier that tries to tell reference rows from batch rows; its cross-validated AUC is 0.5
when it cannot, and a permutation test (labels shuffled) gives the p-value of the observed AUC.

The diagnosis names the seed's three kinds of shift:

- **covariate** — the inputs moved: the domain classifier separates the batch (p <= ``alpha`` and
  AUC >= ``min_auc``);
- **concept** — the input-output relation moved (labelled batch only): more batch targets fall
  outside the champion's intervals than the same intervals miss in distribution (the champion's
  calibration rows, ``in_distribution_miss_rate``; the nominal ``1 - confidence_level`` only when that
  is unknown), one-sided binomial test at ``alpha``. Judged against the nominal rate, intervals that
  under-cover everywhere would call every labelled batch a concept shift;
- **selection** — which samples get measured or reported moved: the target distribution differs from
  the reference (two-sample KS test at ``alpha``) while the inputs did not explain it, or the failure
  rate changed / failures are missing altogether.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest, ks_2samp, rankdata, wasserstein_distance
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

PSI_EPSILON = 1e-4  # empty bins would make the log ratio infinite


def population_stability_index(reference: np.ndarray, batch: np.ndarray, n_bins: int = 10) -> float:
    """PSI = sum (b - r) ln(b / r) over the reference's quantile bins (> 0.25 is usually called a shift)."""
    reference, batch = np.asarray(reference, dtype=float), np.asarray(batch, dtype=float)
    reference, batch = reference[np.isfinite(reference)], batch[np.isfinite(batch)]
    if len(reference) == 0 or len(batch) == 0:
        return float("nan")
    return _psi(*_psi_bins(reference, n_bins), batch)


def _psi_bins(reference: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The inner edges of the reference's quantile bins and its share in each (finite values only)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1]))
    shares = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / len(
        reference
    )
    return edges, np.maximum(shares, PSI_EPSILON)


def _psi(edges: np.ndarray, r: np.ndarray, batch: np.ndarray) -> float:
    b = np.bincount(np.searchsorted(edges, batch, side="right"), minlength=len(edges) + 1) / len(batch)
    b = np.maximum(b, PSI_EPSILON)
    return float(np.sum((b - r) * np.log(b / r)))


@dataclass
class FeatureReference:
    """What :func:`feature_drift` needs of the reference, per column: its finite values (sorted), their
    standard deviation and its PSI bins; made once for all batches of a run (most of a batch's work)."""

    values: dict[str, np.ndarray]
    scales: dict[str, float]
    bins: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def of(cls, reference: pd.DataFrame, n_bins: int = 10) -> FeatureReference:
        values, scales, bins = {}, {}, {}
        for column in reference.columns:
            ref = reference[column].to_numpy(dtype=float)
            ref = ref[np.isfinite(ref)]
            values[column] = np.sort(ref)  # the distances sort it again: sorted, that is fast
            if len(ref):
                scales[column] = ref.std() or 1.0
                bins[column] = _psi_bins(ref, n_bins)
        return cls(values, scales, bins)


def feature_drift(
    reference: pd.DataFrame | FeatureReference, batch: pd.DataFrame, n_bins: int = 10
) -> pd.DataFrame:
    """Per shared numeric column: ``psi`` and ``wasserstein`` (in reference standard deviations).
    ``reference``: the reference rows, or their :class:`FeatureReference` (made with the same ``n_bins``)."""
    if not isinstance(reference, FeatureReference):
        reference = FeatureReference.of(reference, n_bins)
    rows = {}
    for column in pd.Index(list(reference.values)).intersection(batch.columns):
        ref, new = reference.values[column], batch[column].to_numpy(dtype=float)
        new = new[np.isfinite(new)]
        if len(ref) == 0 or len(new) == 0:
            continue
        rows[column] = {
            "psi": _psi(*reference.bins[column], new),
            "wasserstein": float(wasserstein_distance(ref, new) / reference.scales[column]),
        }
    return pd.DataFrame.from_dict(rows, orient="index").sort_values("psi", ascending=False)


# each training fold of a 2-fold cross-validation must hold both domains
MIN_ROWS_PER_DOMAIN = 2
# ridge penalty per training row on standardised descriptors: many are collinear (fractions, means)
RIDGE_PER_ROW = 0.1


def _fold_projections(
    X: np.ndarray, n_folds: int, random_state: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per fold: its held-out rows, its fitting rows and the matrix that maps the fitting rows' labels to the
    held-out rows' scores of a ridge least-squares classifier (Fisher's discriminant, regularised).

    The folds do not depend on the labels, so one projection per fold scores every permutation: the
    permutation test is the observed statistic's exact procedure applied to shuffled labels."""
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    projections = []
    for fit_rows, held_out in folds.split(X):
        design = np.c_[X[fit_rows], np.ones(len(fit_rows))]
        penalty = np.full(design.shape[1], RIDGE_PER_ROW * len(fit_rows))
        penalty[-1] = 0.0  # the intercept is not shrunk
        gram = design.T @ design + np.diag(penalty)
        weights_of_labels = np.linalg.solve(gram, design.T)  # (features + 1) x fitting rows
        projections.append(
            (held_out, fit_rows, np.c_[X[held_out], np.ones(len(held_out))] @ weights_of_labels)
        )
    return projections


def _cross_validated_aucs(
    projections: list[tuple[np.ndarray, np.ndarray, np.ndarray]], labels: np.ndarray
) -> np.ndarray:
    """Out-of-fold AUC for each column of ``labels`` (rows x label sets, 0 = reference, 1 = batch)."""
    scores = np.empty(labels.shape, dtype=float)
    for held_out, fit_rows, projection in projections:
        scores[held_out] = projection @ labels[fit_rows]
    # Mann-Whitney: the AUC is the positives' mean rank, shifted and scaled (ties share their mean rank)
    ranks = rankdata(scores, axis=0)
    positives = labels.sum(axis=0)
    negatives = len(labels) - positives
    return ((ranks * labels).sum(axis=0) - positives * (positives + 1) / 2) / (positives * negatives)


def domain_classifier_drift(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    n_permutations: int = 49,
    n_folds: int = 3,
    max_reference_rows: int = 2000,
    random_state: int = 0,
    max_batch_rows: int | None = None,
    stop_after_exceedances: int = 5,
) -> dict[str, float]:
    """Cross-validated AUC of reference vs batch, and its permutation p-value (1 + k) / (1 + n).

    The classifier is ridge least squares on the domain label (a regularised Fisher discriminant): with
    folds that do not depend on the labels, every permutation is one matrix product, so the full test
    costs about one fit (a logistic regression per permutation took most of a monitoring run).

    The permutations count until ``stop_after_exceedances`` (h) permuted AUCs reached the observed one;
    the p-value is then Besag & Clifford's (1991) sequential h / L after L permutations, a valid
    p-value. A stopped test's full p-value would be >= (1 + h) / (1 + n) and its sequential one is
    >= h / n, so alarms are the full test's for any ``alpha`` < h / n (0.1 with 49 permutations).

    At most ``max_reference_rows`` reference rows and ``max_batch_rows`` batch rows (default: the same
    number) take part, drawn without replacement; ``n_batch`` is the batch's size, ``n_batch_tested``
    the rows the classifier saw. Imputation and scaling are fitted once on every row: they never see the
    labels, so the permutation test stays exact."""
    rng = np.random.default_rng(random_state)
    columns = reference.columns.intersection(batch.columns)
    n_batch = len(batch)
    if min(n_batch, len(reference)) < MIN_ROWS_PER_DOMAIN:  # a cross-validated classifier needs both classes
        return {
            "auc": float("nan"),
            "p_value": 1.0,
            "n_permutations_run": 0,
            "n_reference": int(len(reference)),
            "n_batch": int(n_batch),
            "n_batch_tested": 0,
            "skipped": f"{n_batch} batch row(s): the domain classifier needs at least {MIN_ROWS_PER_DOMAIN}",
        }
    if len(reference) > max_reference_rows:  # a large training set would only slow the test down
        reference = reference.iloc[rng.choice(len(reference), max_reference_rows, replace=False)]
    max_batch_rows = max_reference_rows if max_batch_rows is None else max_batch_rows
    if len(batch) > max_batch_rows:  # nor would a large batch: the test's power is set by the smaller side
        batch = batch.iloc[np.sort(rng.choice(len(batch), max_batch_rows, replace=False))]
    X = np.vstack([reference[columns].to_numpy(dtype=float), batch[columns].to_numpy(dtype=float)])
    X = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
    ).fit_transform(X)
    labels = np.r_[np.zeros(len(reference)), np.ones(len(batch))]
    n_folds = max(2, min(n_folds, len(batch), len(reference)))
    permuted = np.column_stack([labels] + [rng.permutation(labels) for _ in range(n_permutations)])
    # small products: BLAS threads only contend (2-3x slower on a busy 2-core machine)
    with threadpool_limits(limits=1, user_api="blas"):
        aucs = _cross_validated_aucs(_fold_projections(X, n_folds, random_state), permuted)
    auc, reached = float(aucs[0]), np.cumsum(aucs[1:] >= aucs[0])
    # the sequential rule, as if the permutations had run one by one
    stop = np.flatnonzero(reached >= stop_after_exceedances)
    run = int(stop[0]) + 1 if len(stop) else n_permutations
    exceedances = int(reached[run - 1]) if run else 0
    stopped = exceedances >= stop_after_exceedances and run < n_permutations
    p_value = exceedances / run if stopped else (1 + exceedances) / (1 + n_permutations)
    return {
        "auc": auc,
        "p_value": float(p_value),
        "n_permutations_run": int(run),
        "n_reference": int(len(reference)),
        "n_batch": int(n_batch),
        "n_batch_tested": int(len(batch)),
    }


def in_distribution_miss_rate(target: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Fraction of in-distribution targets outside their intervals, floored at 1 / (n + 1): a binomial
    test against a rate of exactly 0 would call any single miss a shift."""
    target, lower, upper = (np.asarray(a, dtype=float) for a in (target, lower, upper))
    known = np.isfinite(target)
    if not known.any():
        raise ValueError("in-distribution miss rate: no finite target among the calibration rows")
    missed = int(np.sum((target[known] < lower[known]) | (target[known] > upper[known])))
    return max(missed / int(known.sum()), 1 / (int(known.sum()) + 1))


@dataclass
class ShiftDiagnosis:
    covariate: bool
    concept: bool | None  # None: the batch has no labels (or no intervals) to judge it
    selection: bool | None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return [kind for kind in ("covariate", "concept", "selection") if getattr(self, kind)]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kinds": self.kinds}


def diagnose_shift(
    domain: dict[str, float],
    alpha: float = 0.05,
    min_auc: float = 0.6,
    reference_target: np.ndarray | None = None,
    batch_target: np.ndarray | None = None,
    batch_lower: np.ndarray | None = None,
    batch_upper: np.ndarray | None = None,
    confidence_level: float = 0.9,
    reference_failure_rate: float | None = None,
    batch_failure_rate: float | None = None,
    max_failure_rate_change: float = 0.2,
    expected_miss_rate: float | None = None,
) -> ShiftDiagnosis:
    """Name the kinds of shift from the domain classifier result and, for a labelled batch, its targets."""
    evidence: dict[str, Any] = {"domain_auc": domain["auc"], "domain_p_value": domain["p_value"]}
    if "skipped" in domain:
        evidence["domain_classifier_skipped"] = domain["skipped"]
    # a permutation p-value (1 + k) / (1 + n) is valid with <=; min_auc keeps a tiny, real shift in a
    # large batch from raising an alarm nobody can act on
    covariate = domain["p_value"] <= alpha and domain["auc"] >= min_auc

    concept = None
    labelled = batch_target is not None and np.isfinite(np.asarray(batch_target, dtype=float)).any()
    if labelled and batch_lower is not None and batch_upper is not None:
        target = np.asarray(batch_target, dtype=float)
        known = np.isfinite(target)
        missed = int(np.sum((target[known] < batch_lower[known]) | (target[known] > batch_upper[known])))
        baseline = 1 - confidence_level if expected_miss_rate is None else expected_miss_rate
        test = binomtest(missed, int(known.sum()), baseline, alternative="greater")
        evidence.update(
            {
                "interval_miss_rate": missed / max(1, int(known.sum())),
                "interval_miss_p_value": test.pvalue,
                "expected_miss_rate": float(baseline),
                "expected_miss_rate_source": "nominal" if expected_miss_rate is None else "in_distribution",
            }
        )
        concept = bool(test.pvalue < alpha)

    selection = None
    if labelled and reference_target is not None:
        target = np.asarray(batch_target, dtype=float)
        ks = ks_2samp(np.asarray(reference_target, dtype=float), target[np.isfinite(target)])
        evidence.update({"target_ks": float(ks.statistic), "target_ks_p_value": float(ks.pvalue)})
        # a target that moved while the inputs did not is what a different choice of samples looks like
        selection = bool(ks.pvalue < alpha and not covariate)
    if reference_failure_rate is not None and batch_failure_rate is not None:
        evidence.update(
            {"reference_failure_rate": reference_failure_rate, "batch_failure_rate": batch_failure_rate}
        )
        failures_missing = reference_failure_rate > 0 and batch_failure_rate == 0
        rate_moved = abs(batch_failure_rate - reference_failure_rate) > max_failure_rate_change
        selection = bool(selection) or failures_missing or rate_moved
    return ShiftDiagnosis(covariate=bool(covariate), concept=concept, selection=selection, evidence=evidence)
