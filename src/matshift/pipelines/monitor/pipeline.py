from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from matshift.pipelines.monitor.nodes import check_bad_files, monitor_plant_batches, stage_plant_batches
from matshift.pipelines.namespacing import bind_dataset


def create_pipeline(dataset: str, with_transfer: bool = True) -> Pipeline:
    # the declaration tells a domain dataset's batches (raw file layout, its module's features) apart
    """Stage, validate, score and report plant batches. Without a transfer source the batch rows are
    scored from their descriptors and process columns alone (no source tables are read)."""
    monitor = bind_dataset(monitor_plant_batches, dataset)
    source_inputs = {
        "source_feature_table": "source_feature_table",
        "source_polymorphs": "source_polymorphs",
        "source_models": "source_models",
        "source_folds": "source_folds",
    }
    if not with_transfer:
        monitor = update_wrapper(partial(monitor, **dict.fromkeys(source_inputs)), monitor_plant_batches)
        source_inputs = {}
    return Pipeline(
        [
            node(
                bind_dataset(stage_plant_batches, dataset),
                inputs=["plant_batches", "params:dataset"],
                outputs=["plant_table", "plant_quarantine", "plant_counts"],
                name="stage_plant_batches",
            ),
            node(
                monitor,
                inputs={
                    "plant_table": "plant_table",
                    "plant_counts": "plant_counts",
                    "materials_table": "materials_table",
                    "features": "features",
                    **source_inputs,
                    "champion_model": "champion_model",
                    "champion_choice": "champion",
                    "robust_params": "params:robust",
                    "monitor_params": "params:monitor",
                    "declaration": "params:dataset",
                },
                outputs=[
                    "plant_predictions",
                    "next_experiments",
                    "monitoring_reports",
                    "monitoring_summary",
                    "plant_predictions_manifest",
                    "challenger_models",
                    "reference_profile",
                    "champion_proposal",
                ],
                name="monitor_plant_batches",
            ),
            node(
                check_bad_files,
                inputs=["monitoring_summary", "params:monitor"],
                outputs=None,
                name="check_bad_files",
            ),
        ]
    )
