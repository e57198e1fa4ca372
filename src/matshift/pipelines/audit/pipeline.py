from kedro.pipeline import Pipeline, node

from matshift.pipelines.audit.nodes import (
    audit_domain_shortcuts,
    audit_report,
    latent_space_audit,
    near_duplicate_audit,
    selection_bias_audit,
    shortcut_audit,
)
from matshift.pipelines.namespacing import bind_dataset


def create_pipeline(dataset: str, domain: bool = False) -> Pipeline:
    if domain:  # a domain module's table: the shortcut audit over its metadata columns
        return Pipeline(
            [
                node(
                    audit_domain_shortcuts,
                    inputs=["materials_table", "features", "params:dataset", "params:audit"],
                    outputs="audit",
                    name="audit_domain_shortcuts",
                )
            ]
        )
    return Pipeline(
        [
            node(
                bind_dataset(near_duplicate_audit, dataset),
                inputs=["materials_table", "splits", "params:audit"],
                outputs="audit_near_duplicates",
                name="near_duplicate_audit",
            ),
            node(
                shortcut_audit,
                inputs=["materials_table", "features", "params:audit"],
                outputs="audit_shortcuts",
                name="shortcut_audit",
            ),
            node(
                selection_bias_audit,
                inputs=["materials_table", "features", "splits", "params:audit"],
                outputs="audit_selection_bias",
                name="selection_bias_audit",
            ),
            node(
                latent_space_audit,
                inputs=["materials_table", "features", "splits", "robust_predictions", "params:audit"],
                outputs="audit_latent_space",
                name="latent_space_audit",
            ),
            node(
                bind_dataset(audit_report, dataset),
                inputs=[
                    "audit_near_duplicates",
                    "audit_shortcuts",
                    "audit_selection_bias",
                    "audit_latent_space",
                ],
                outputs=["audit", "audit_md"],
                name="audit_report",
            ),
        ]
    )
