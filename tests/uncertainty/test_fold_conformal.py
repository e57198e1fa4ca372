"""Cross-fold conformal intervals and flags on synthetic fold tables where the truth is known."""

import numpy as np
import pandas as pd
import pytest

from matshift.uncertainty.conformal import conformal_quantile
from matshift.uncertainty.fold_conformal import (
    CROSS_FOLD,
    GROUPED_HOLDOUT,
    FoldConformalSettings,
    conformalize_folds,
    folds_needing_holdout,
    holdout_split,
)

CLIP = (-1000.0, 1000.0)


def settings(n_ood_bins: int = 3, min_bin_size: int = 30) -> FoldConformalSettings:
    return FoldConformalSettings(
        confidence_level=0.9,
        flag_quantile=0.9,
        knn_neighbours=5,
        n_ood_bins=n_ood_bins,
        min_bin_size=min_bin_size,
        holdout_fraction=0.2,
        random_state=0,
    )


def fold_table(residuals: dict[int, np.ndarray], rng, distances: dict[int, np.ndarray] | None = None):
    """One model's test rows on one split: fold k's rows have residuals ``residuals[k]``."""
    frames = []
    for fold, residual in residuals.items():
        n = len(residual)
        target = rng.normal(size=n)
        frames.append(
            pd.DataFrame(
                {
                    "split": "s",
                    "fold": fold,
                    "fold_name": f"f{fold}",
                    "model": "m",
                    "sample_id": [f"f{fold}_{i}" for i in range(n)],
                    "group": "g",
                    "target": target,
                    "prediction": target + residual,
                    "distance": rng.uniform(size=n) if distances is None else distances[fold],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def covered(rows: pd.DataFrame) -> pd.Series:
    return (rows["target"] >= rows["lower"]) & (rows["target"] <= rows["upper"])


def test_exchangeable_folds_are_covered_about_90_percent():
    rng = np.random.default_rng(0)
    coverages = []
    for _ in range(10):
        table = fold_table({k: rng.normal(size=300) for k in range(5)}, rng)
        out = conformalize_folds(table, None, settings(), CLIP)
        coverages.append(covered(out).mean())
        assert (out["interval_method"] == CROSS_FOLD).all() and "distance" not in out
    assert 0.88 <= np.mean(coverages) <= 0.92


def test_a_fold_is_never_calibrated_on_its_own_residuals():
    """Fold 0 errs ten times more than the others: calibrated on the others alone, its interval is the
    others' quantile and misses most of its rows; had its own residuals leaked in, it would widen."""
    rng = np.random.default_rng(1)
    residuals = {0: rng.normal(scale=10.0, size=100), **{k: rng.normal(size=100) for k in range(1, 5)}}
    table = fold_table(residuals, rng)
    out = conformalize_folds(table, None, settings(n_ood_bins=1), CLIP)
    fold0 = out[out["fold"] == 0]
    expected = conformal_quantile(np.concatenate([np.abs(residuals[k]) for k in range(1, 5)]), 0.1)
    np.testing.assert_allclose(fold0["upper"] - fold0["prediction"], expected)
    assert covered(fold0).mean() < 0.3


def test_rows_a_fold_tests_are_left_out_of_its_calibration_even_from_another_fold():
    """Element families overlap: fold 1 also tests fold 0's rows (here with huge errors). Those labels
    must not calibrate fold 0's intervals."""
    rng = np.random.default_rng(2)
    table = fold_table({0: rng.normal(size=100), 2: rng.normal(size=100)}, rng)
    fold0 = table[table["fold"] == 0]
    overlap = fold0.assign(fold=1, fold_name="f1", prediction=fold0["target"] + 100.0)
    own = fold_table({1: rng.normal(size=100)}, rng)
    out = conformalize_folds(pd.concat([table, overlap, own], ignore_index=True), None, settings(1), CLIP)
    width = (out["upper"] - out["lower"])[out["fold"] == 0]
    assert width.max() < 10.0  # the 100 eV residuals of fold 0's own rows stayed out


def test_flag_threshold_comes_from_the_calibration_rows_distances():
    rng = np.random.default_rng(3)
    calibration_distance = {k: rng.uniform(size=200) for k in (1, 2)}
    distances = {0: np.linspace(0.0, 2.0, 100), **calibration_distance}
    residuals = {k: rng.normal(size=len(d)) for k, d in distances.items()}
    out = conformalize_folds(fold_table(residuals, rng, distances), None, settings(), CLIP)
    fold0 = out[out["fold"] == 0]
    reference = np.concatenate(list(calibration_distance.values()))
    flagged = fold0["uncertain"].to_numpy()
    # about the 90th percentile of the other folds' distances, not of fold 0's own (which flags 10%)
    assert (distances[0][flagged] > np.quantile(reference, 0.89)).all()
    assert (distances[0][~flagged] < np.quantile(reference, 0.91)).all()
    assert 0.5 < flagged.mean() < 0.6
    assert fold0["ood_score"].between(0, 1).all() and out["uncertain"].dtype == bool
    assert (fold0["reason"] != "").equals(fold0["uncertain"])


def test_a_single_fold_is_calibrated_on_its_grouped_holdout_and_fails_without_one():
    rng = np.random.default_rng(4)
    test = fold_table({0: rng.normal(size=50)}, rng)
    with pytest.raises(ValueError, match="split 's' fold 0, model 'm'"):
        conformalize_folds(test, None, settings(), CLIP)
    holdout_residual = rng.normal(scale=2.0, size=40)
    holdout = fold_table({0: holdout_residual}, rng)
    out = conformalize_folds(test, holdout, settings(n_ood_bins=1), CLIP)
    assert (out["interval_method"] == GROUPED_HOLDOUT).all()
    np.testing.assert_allclose(
        out["upper"] - out["prediction"], conformal_quantile(np.abs(holdout_residual), 0.1)
    )
    pd.testing.assert_series_equal(out["prediction"], test["prediction"])  # values untouched


def test_intervals_are_clipped_to_the_declared_range():
    rng = np.random.default_rng(5)
    out = conformalize_folds(
        fold_table({k: rng.normal(size=50) for k in range(3)}, rng), None, settings(), (0, 1)
    )
    assert out["lower"].ge(0).all() and out["upper"].le(1).all()


def test_folds_needing_holdout_are_single_folds_and_folds_the_others_only_repeat():
    folds = [
        ("cv", 0, ["a", "b"]),
        ("cv", 1, ["c"]),
        ("extrapolation", 0, ["d"]),
        ("families", 0, ["a", "b"]),
        ("families", 1, ["a"]),  # its rows are all in fold 0: fold 0 has nothing else to calibrate on
    ]
    assert folds_needing_holdout(folds) == {("extrapolation", 0), ("families", 0)}


def test_holdout_split_keeps_each_composition_on_one_side():
    train_ids = np.array([f"s{i}" for i in range(100)])
    compositions = pd.Series([f"C{i // 4}" for i in range(100)], index=train_ids)
    fit_ids, cal_ids = holdout_split(train_ids, compositions, settings())
    assert not set(compositions.loc[fit_ids]) & set(compositions.loc[cal_ids])
    assert len(fit_ids) + len(cal_ids) == 100 and 10 <= len(cal_ids) <= 30
