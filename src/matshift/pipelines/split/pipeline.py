from kedro.pipeline import Pipeline, node

from matshift.pipelines.namespacing import bind_dataset
from matshift.pipelines.split.nodes import audit_domain_leakage, audit_leakage, make_splits, split_domain


def create_pipeline(dataset: str, domain: bool = False) -> Pipeline:
    if domain:  # the domain module's splits, audited on the declared leakage key
        return Pipeline(
            [
                node(
                    split_domain,
                    inputs=["materials_table", "params:dataset", "params:split"],
                    outputs="splits",
                    name="make_splits",
                ),
                node(
                    bind_dataset(audit_domain_leakage, dataset),
                    inputs=["materials_table", "splits", "params:dataset"],
                    outputs="leakage_audit",
                    name="audit_leakage",
                ),
            ]
        )
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
