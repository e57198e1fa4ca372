from kedro.pipeline import Pipeline, node

from matshift.pipelines.namespacing import bind_dataset
from matshift.pipelines.validate.nodes import clean_domain_table, validate_materials

OUTPUTS = ["materials_table", "quarantine", "validation_summary", "gx_validation_result"]


def create_pipeline(dataset: str, domain: bool = False) -> Pipeline:
    """The staged rows checked by the declared expectations; a dataset with a domain module
    (``case_study:``) is cleaned from its raw file by the module, then checked the same way."""
    if domain:
        return Pipeline(
            [
                node(
                    bind_dataset(clean_domain_table, dataset),
                    inputs=["raw", "params:dataset"],
                    outputs=OUTPUTS,
                    name="clean_domain_table",
                )
            ]
        )
    return Pipeline(
        [
            node(
                bind_dataset(validate_materials, dataset),
                inputs=["staged", "params:dataset"],
                outputs=OUTPUTS,
                name="validate_materials",
            )
        ]
    )
