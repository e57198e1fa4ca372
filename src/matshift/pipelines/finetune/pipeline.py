from kedro.pipeline import Pipeline, node

from matshift.pipelines.finetune.nodes import finetune_and_predict


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                finetune_and_predict,
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
                ],
                outputs="transfer_predictions",
                name="finetune_and_predict",
            )
        ]
    )
