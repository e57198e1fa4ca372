from kedro.pipeline import Pipeline, node

from matshift.pipelines.namespacing import bind_dataset
from matshift.pipelines.promote.nodes import promote_challenger


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_dataset(promote_challenger, dataset),
                inputs=[
                    "champion_proposal",
                    "monitoring_summary",
                    "challenger_models",
                    "current_champion",  # the same record, read before it is rewritten
                    "plant_predictions",
                    "monitoring_reports",
                    "params:promote",
                ],
                outputs=["champion_model", "champion", "kept_predictions", "kept_reports"],
                name="promote_challenger",
            )
        ]
    )
