import numpy as np
import pandas as pd

from matshift.reporting.robustness import robustness_report


def test_report_has_every_model_and_split_and_embeds_its_figures():
    rng = np.random.default_rng(0)
    rows = []
    for split in ("matbench_cv", "leave_cluster_out"):
        for model in ("erm", "dann"):
            target = rng.normal(size=60)
            prediction = target + rng.normal(scale=0.3, size=60)
            rows.append(
                pd.DataFrame(
                    {
                        "split": split,
                        "model": model,
                        "group": np.repeat(["a", "b"], 30),
                        "target": target,
                        "prediction": prediction,
                        "lower": prediction - 0.5,
                        "upper": prediction + 0.5,
                        "std": np.nan,
                        "ood_score": rng.uniform(size=60),
                    }
                )
            )
    predictions = pd.concat(rows, ignore_index=True)
    metrics = {
        "demo": {
            s: {m: {"mae": 0.3, "coverage_90": 0.9} for m in ("erm", "dann")}
            for s in ("matbench_cv", "leave_cluster_out")
        }
    }
    html, markdown, figures = robustness_report(metrics, {"demo": predictions})
    assert html.count("<h3>") == 2 + 3 and html.count("data:image/png;base64,") == 3
    assert "| dann |" in markdown and "### leave_cluster_out" in markdown
    assert set(figures) == {
        "demo_reliability.png",
        "demo_coverage_per_group.png",
        "demo_error_vs_uncertainty.png",
    }
