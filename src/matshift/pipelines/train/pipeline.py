from kedro.pipeline import Pipeline, node

from matshift.pipelines.namespacing import bind_dataset
from matshift.pipelines.train.nodes import train_and_predict


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_dataset(train_and_predict, dataset),
                inputs=[
                    "materials_table",
                    "features",
                    "splits",
                    "params:dataset",
                    "params:train",
                    "params:robust",
                ],
                outputs=["models", "predictions"],
                name="train_and_predict",
            )
        ]
    )
