from kedro.pipeline import Pipeline, node

from matshift.pipelines.ingest.nodes import stage_materials_table
from matshift.pipelines.namespacing import bind_dataset


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_dataset(stage_materials_table, dataset),
                inputs=["raw", "params:dataset"],
                outputs="staged",
                name="stage_materials_table",
            )
        ]
    )
