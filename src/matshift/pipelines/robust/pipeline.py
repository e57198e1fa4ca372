from kedro.pipeline import Pipeline, node

from matshift.pipelines.robust.nodes import robust_train_and_predict


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                robust_train_and_predict,
                inputs=[
                    "materials_table",
                    "features",
                    "source_feature_table",
                    "splits",
                    "params:dataset",
                    "params:robust",
                ],
                outputs="robust_predictions",
                name="robust_train_and_predict",
            )
        ]
    )
