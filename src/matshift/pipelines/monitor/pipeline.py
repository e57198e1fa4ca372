from kedro.pipeline import Pipeline, node

from matshift.pipelines.monitor.nodes import check_bad_files, monitor_plant_batches, stage_plant_batches
from matshift.pipelines.namespacing import bind_dataset


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_dataset(stage_plant_batches, dataset),
                inputs=["plant_batches", "params:dataset"],
                outputs=["plant_table", "plant_quarantine", "plant_counts"],
                name="stage_plant_batches",
            ),
            node(
                bind_dataset(monitor_plant_batches, dataset),
                inputs=[
                    "plant_table",
                    "plant_counts",
                    "materials_table",
                    "features",
                    "source_feature_table",
                    "source_polymorphs",
                    "source_models",
                    "source_folds",
                    "champion_model",
                    "champion",
                    "params:robust",
                    "params:monitor",
                ],
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
