from kedro.pipeline import Pipeline, node

from matshift.pipelines.finetune.nodes import finetune_and_predict
from matshift.pipelines.namespacing import bind_dataset


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                bind_dataset(finetune_and_predict, dataset),
                inputs=[
                    "materials_table",
                    "features",
                    "source_feature_table",
                    "splits",
                    "source_polymorphs",
                    "source_models",
                    "source_folds",
                    "params:dataset",
                    "params:transfer",
                    "params:robust",
                ],
                outputs="transfer_predictions",
                name="finetune_and_predict",
            )
        ]
    )
