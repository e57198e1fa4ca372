from kedro.pipeline import Pipeline, node

from matshift.pipelines.pretrain.nodes import (
    assign_source_folds,
    pretrain_source_models,
    source_features_for_target,
    summarise_source,
)


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                summarise_source,
                inputs="source_materials_table",
                outputs="source_polymorphs",
                name="summarise_source",
            ),
            node(
                assign_source_folds,
                inputs=["source_polymorphs", "materials_table", "splits", "params:transfer"],
                outputs="source_folds",
                name="assign_source_folds",
            ),
            node(
                pretrain_source_models,
                inputs=[
                    "source_polymorphs",
                    "source_features",
                    "source_folds",
                    "materials_table",
                    "splits",
                    "params:transfer",
                ],
                outputs="source_models",
                name="pretrain_source_models",
            ),
            node(
                source_features_for_target,
                inputs=["materials_table", "features", "source_polymorphs", "source_models", "source_folds"],
                outputs="source_feature_table",
                name="source_features_for_target",
            ),
        ]
    )
