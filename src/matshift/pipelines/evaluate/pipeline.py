from kedro.pipeline import Pipeline, node

from matshift.pipelines.evaluate.nodes import (
    collect_predictions,
    combine_prediction_tables,
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
    elif with_robust:  # no transfer source: baseline and robust predictions side by side
        evaluated = "all_predictions"
        nodes.append(
            node(
                combine_prediction_tables,
                inputs=["predictions", "robust_predictions"],
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
        inputs = {
            "metrics": "metrics",
            "materials_table": "materials_table",
            "features": "features",
            "declaration": "params:dataset",
            "robust_params": "params:robust",
            "monitor_params": "params:monitor",
        }
        if with_transfer:
            inputs["source_feature_table"] = "source_feature_table"
        nodes.append(
            node(fit_champion, inputs=inputs, outputs=["champion_model", "champion"], name="fit_champion")
        )
    return Pipeline(nodes)
