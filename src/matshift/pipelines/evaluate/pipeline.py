from kedro.pipeline import Pipeline, node

from matshift.pipelines.evaluate.nodes import compute_metrics, group_errors, parity_plots
from matshift.pipelines.namespacing import bind_dataset


def create_pipeline(dataset: str) -> Pipeline:
    return Pipeline(
        [
            node(
                compute_metrics,
                inputs=["predictions", "params:evaluate"],
                outputs="metrics",
                name="compute_metrics",
            ),
            node(group_errors, inputs="predictions", outputs="group_metrics", name="group_errors"),
            node(
                bind_dataset(parity_plots, dataset),
                inputs="predictions",
                outputs="parity_plots",
                name="parity_plots",
            ),
        ]
    )
