from kedro.pipeline import Pipeline, node

from matshift.pipelines.evaluate.nodes import (
    collect_predictions,
    compute_metrics,
    fit_champion,
    group_errors,
    parity_plots,
)
from matshift.pipelines.namespacing import bind_dataset


def create_pipeline(
    dataset: str, with_transfer: bool = False, with_robust: bool = False, with_champion: bool = False
) -> Pipeline:
    """Metrics, per-group errors and parity plots over the baseline predictions and, when the dataset
    runs them, the transfer and robust predictions."""
    nodes = []
    evaluated = "predictions"
    if with_transfer:
        evaluated = "all_predictions"
        tables = ["predictions", "transfer_predictions", *(["robust_predictions"] if with_robust else [])]
        nodes.append(
            node(
                collect_predictions,
                inputs=["materials_table", "source_feature_table", *tables],
                outputs=evaluated,
                name="collect_predictions",
            )
        )
    nodes += [
        node(
            compute_metrics, inputs=[evaluated, "params:evaluate"], outputs="metrics", name="compute_metrics"
        ),
        node(group_errors, inputs=evaluated, outputs="group_metrics", name="group_errors"),
        node(
            bind_dataset(parity_plots, dataset), inputs=evaluated, outputs="parity_plots", name="parity_plots"
        ),
    ]
    if with_champion:  # a monitored dataset: the model plant batches are scored with
        nodes.append(
            node(
                fit_champion,
                inputs=[
                    "metrics",
                    "materials_table",
                    "features",
                    "source_feature_table",
                    "params:dataset",
                    "params:robust",
                    "params:monitor",
                ],
                outputs=["champion_model", "champion"],
                name="fit_champion",
            )
        )
    return Pipeline(nodes)
