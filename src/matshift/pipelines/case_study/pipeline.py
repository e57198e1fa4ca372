"""The case-study nodes, one small pipeline per stage so the registry can file them with the band-gap
stages (``kedro run --pipeline train`` trains every dataset, case studies included)."""

from kedro.pipeline import Pipeline, node

from matshift.pipelines.case_study.nodes import (
    audit_case_study_leakage,
    audit_case_study_shortcuts,
    clean_case_study,
    collect_case_study_predictions,
    featurize_case_study,
    robust_case_study,
    split_case_study,
    train_case_study,
)
from matshift.pipelines.namespacing import bind_dataset
from matshift.reporting.evaluation import compute_metrics, group_errors, parity_plots

CASE_STUDY_PARAMS = "params:case_studies"


def create_pipelines(dataset: str) -> dict[str, Pipeline]:
    """Stage name -> this dataset's nodes of that stage (un-namespaced templates)."""
    modelling = ["materials_table", "features", "splits", "params:dataset", CASE_STUDY_PARAMS]
    return {
        "validate": Pipeline(
            [
                node(
                    bind_dataset(clean_case_study, dataset),
                    inputs=["raw", "params:dataset"],
                    outputs=["materials_table", "quarantine", "validation_summary"],
                    name="clean_case_study",
                )
            ]
        ),
        "featurize": Pipeline(
            [
                node(
                    bind_dataset(featurize_case_study, dataset),
                    inputs=["materials_table", "params:dataset"],
                    outputs="features",
                    name="featurize_case_study",
                )
            ]
        ),
        "split": Pipeline(
            [
                node(
                    split_case_study,
                    inputs=["materials_table", "params:dataset", "params:case_studies.split"],
                    outputs="splits",
                    name="split_case_study",
                ),
                node(
                    bind_dataset(audit_case_study_leakage, dataset),
                    inputs=["materials_table", "splits", "params:dataset"],
                    outputs="leakage_audit",
                    name="audit_case_study_leakage",
                ),
            ]
        ),
        "train": Pipeline(
            [node(train_case_study, inputs=modelling, outputs="predictions", name="train_case_study")]
        ),
        "robust": Pipeline(
            [
                node(
                    robust_case_study,
                    inputs=modelling,
                    outputs="robust_predictions",
                    name="robust_case_study",
                )
            ]
        ),
        "evaluate": Pipeline(
            [
                node(
                    collect_case_study_predictions,
                    inputs=["predictions", "robust_predictions"],
                    outputs="all_predictions",
                    name="collect_case_study_predictions",
                ),
                node(
                    compute_metrics,
                    inputs=["all_predictions", "params:case_studies.evaluate"],
                    outputs="metrics",
                    name="compute_metrics",
                ),
                node(group_errors, inputs="all_predictions", outputs="group_metrics", name="group_errors"),
                node(
                    bind_dataset(parity_plots, dataset),
                    inputs="all_predictions",
                    outputs="parity_plots",
                    name="parity_plots",
                ),
            ]
        ),
        "audit": Pipeline(
            [
                node(
                    audit_case_study_shortcuts,
                    inputs=["materials_table", "features", "params:dataset", "params:audit"],
                    outputs="audit",
                    name="audit_case_study_shortcuts",
                )
            ]
        ),
    }
