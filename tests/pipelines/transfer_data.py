"""Small synthetic source (DFT) and target (experiment) domains shared by the transfer node tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

N_FOLDS = 3

SMALL_TRANSFER_PARAMS = {
    "n_folds": N_FOLDS,
    "source_catboost": {"iterations": 30, "depth": 3, "verbose": False, "allow_writing_files": False},
    "source_mlp": {"hidden_layers": [8], "epochs": 2, "batch_size": 32, "random_state": 0},
    "strategies": ["lookup", "stack", "lookup_stack", "delta", "warm_start", "finetune_mlp"],
    "strategy_params": {
        "lookup": {"catboost_params": {"iterations": 30, "depth": 3, "thread_count": 1}},
        "finetune_mlp": {"mlp_params": {"head_epochs": 1, "full_epochs": 1, "batch_size": 16}},
    },
}


def transfer_domains() -> dict[str, pd.DataFrame]:
    """60 compositions; the source has polymorphs of the first 40, the target measures the last 45."""
    rng = np.random.default_rng(0)
    compositions = [f"X{i}" for i in range(60)]
    features = pd.DataFrame(
        rng.normal(size=(60, 3)), index=pd.Index(compositions, name="composition"), columns=["d0", "d1", "d2"]
    )
    truth = 2 + features["d0"]
    source = pd.DataFrame({"composition": compositions[:40] * 2})
    source["target"] = truth.loc[source["composition"]].to_numpy() - 0.5 + rng.normal(0, 0.05, len(source))
    measured = compositions[15:]
    target = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(len(measured))],
            "composition": measured,
            "target": truth.loc[measured].to_numpy(),
            "group": ["a", "b", "c"] * (len(measured) // 3),
        }
    )
    fold = np.arange(len(target)) % N_FOLDS
    splits = pd.concat(
        [
            pd.DataFrame(
                {
                    "split": "matbench_cv",
                    "fold": k,
                    "fold_name": f"fold_{k}",
                    "role": np.where(fold == k, "test", "train"),
                    "sample_id": target["sample_id"],
                }
            )
            for k in range(N_FOLDS)
        ],
        ignore_index=True,
    )
    return {"features": features, "source": source, "target": target, "splits": splits}


def pretrained_transfer_domains(data: dict[str, pd.DataFrame] | None = None) -> dict:
    """The synthetic domains (or ``data``) after the pretrain stage: polymorphs, folds, source models,
    source columns."""
    from matshift.pipelines.pretrain.nodes import (
        assign_source_folds,
        pretrain_source_models,
        summarise_source,
    )
    from matshift.transfer.source import source_features_for_target

    data = transfer_domains() if data is None else data
    polymorphs = summarise_source(data["source"])
    folds = assign_source_folds(polymorphs, data["target"], data["splits"], SMALL_TRANSFER_PARAMS)
    models = pretrain_source_models(
        polymorphs, data["features"], folds, data["target"], data["splits"], SMALL_TRANSFER_PARAMS
    )
    table = source_features_for_target(data["target"], data["features"], polymorphs, models, folds)
    return {**data, "polymorphs": polymorphs, "folds": folds, "models": models, "source_table": table}
