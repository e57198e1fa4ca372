from kedro.pipeline import Pipeline, node

from matshift.pipelines.robust.nodes import robust_on_descriptors, robust_train_and_predict


def create_pipeline(dataset: str, with_transfer: bool = True) -> Pipeline:
    """Every robust model on every fold: on the transfer design matrix when the dataset declares a
    transfer source, else on its descriptors and process columns."""
    if not with_transfer:
        return Pipeline(
            [
                node(
                    robust_on_descriptors,
                    inputs=["materials_table", "features", "splits", "params:dataset", "params:robust"],
                    outputs="robust_predictions",
                    name="robust_train_and_predict",
                )
            ]
        )
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
