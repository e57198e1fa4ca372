from kedro.pipeline import Pipeline, node

from matshift.pipelines.featurize.nodes import featurize_domain, featurize_materials
from matshift.pipelines.namespacing import bind_dataset


def create_pipeline(dataset: str, domain: bool = False) -> Pipeline:
    if domain:  # composition and conditions featurized together, one row per sample
        return Pipeline(
            [
                node(
                    bind_dataset(featurize_domain, dataset),
                    inputs=["materials_table", "params:dataset"],
                    outputs="features",
                    name="featurize",
                )
            ]
        )
    return Pipeline(
        [node(featurize_materials, inputs="materials_table", outputs="features", name="featurize")]
    )
