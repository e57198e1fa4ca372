from kedro.pipeline import Pipeline, node

from matshift.pipelines.featurize.nodes import featurize_materials


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [node(featurize_materials, inputs="materials_table", outputs="features", name="featurize")]
    )
