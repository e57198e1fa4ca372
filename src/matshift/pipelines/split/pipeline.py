from kedro.pipeline import Pipeline, node

from matshift.pipelines.namespacing import bind_dataset
from matshift.pipelines.split.nodes import audit_leakage, make_splits


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_dataset(make_splits, dataset),
                inputs=[
                    "materials_table",
                    "features",
                    "validation_summary",
                    "params:dataset",
                    "params:split",
                ],
                outputs="splits",
                name="make_splits",
            ),
            node(
                bind_dataset(audit_leakage, dataset),
                inputs=["materials_table", "splits"],
                outputs="leakage_audit",
                name="audit_leakage",
            ),
        ]
    )
