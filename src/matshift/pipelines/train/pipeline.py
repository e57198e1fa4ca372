from kedro.pipeline import Pipeline, node

from matshift.pipelines.train.nodes import train_and_predict


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                train_and_predict,
                inputs=["materials_table", "features", "splits", "params:dataset", "params:train"],
                outputs=["models", "predictions"],
                name="train_and_predict",
            )
        ]
    )
