"""Pipeline registry: every stage, once per dataset declared in conf/<env>/parameters_datasets.yml.

Registered names: ``__default__`` (everything), one per stage (``ingest`` ... ``evaluate``, across all
datasets, as the DVC stages run them) and one per dataset (e.g. ``expt_gap``).
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from matshift.declarations import load_declarations
from matshift.pipelines import evaluate, featurize, ingest, split, train, validate
from matshift.pipelines.evaluate.nodes import combine_metrics
from matshift.pipelines.ingest.nodes import combine_materials_tables
from matshift.pipelines.namespacing import for_dataset
from matshift.pipelines.validate.nodes import summarise_validation

# Stages every dataset runs, and those only datasets with splits and models run (a source domain
# such as mp_gap is ingested, validated and featurized for transfer learning, not evaluated alone).
DATA_STAGES = {"ingest": ingest, "validate": validate, "featurize": featurize}
MODEL_STAGES = {"split": split, "train": train, "evaluate": evaluate}


def register_pipelines() -> dict[str, Pipeline]:
    declarations = load_declarations()
    stages: dict[str, Pipeline] = {name: Pipeline([]) for name in (*DATA_STAGES, *MODEL_STAGES)}
    per_dataset: dict[str, Pipeline] = {}
    for dataset, declaration in declarations.items():
        modules = dict(DATA_STAGES)
        if declaration.get("splits") and declaration.get("models"):
            modules.update(MODEL_STAGES)
        per_dataset[dataset] = Pipeline([])
        for stage, module in modules.items():
            namespaced = for_dataset(module.create_pipeline(dataset), dataset)
            stages[stage] += namespaced
            per_dataset[dataset] += namespaced

    evaluated = [d for d, decl in declarations.items() if decl.get("splits") and decl.get("models")]
    stages["validate"] += _across_datasets(summarise_validation, list(declarations), "validation_summary")
    stages["validate"] += _across_datasets(combine_materials_tables, list(declarations), "materials_table")
    if evaluated:
        named_metrics = update_wrapper(partial(combine_metrics, evaluated), combine_metrics)
        stages["evaluate"] += _across_datasets(named_metrics, evaluated, "metrics")
    pipelines = {**stages, **per_dataset}
    pipelines["__default__"] = sum(stages.values(), Pipeline([]))
    return pipelines


def _across_datasets(func, datasets: list[str], output: str) -> Pipeline:
    """A node joining each dataset's ``<dataset>.<output>`` into the project-wide ``<output>``."""
    inputs = [f"{dataset}.{output}" for dataset in datasets]
    return Pipeline([node(func, inputs=inputs, outputs=output, name=func.__name__)])
