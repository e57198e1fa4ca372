from kedro.pipeline import Pipeline, node

from matshift.pipelines.namespacing import bind_dataset
from matshift.pipelines.validate.nodes import validate_materials


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_dataset(validate_materials, dataset),
                inputs=["staged", "params:dataset"],
                outputs=["materials_table", "quarantine", "validation_summary", "gx_validation_result"],
                name="validate_materials",
            )
        ]
    )
