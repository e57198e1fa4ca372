"""Pipeline registry: every stage, once per dataset declared in conf/<env>/parameters_datasets.yml.

Registered names: ``__default__`` (everything), one per stage (``ingest`` ... ``evaluate``, across all
datasets, as the DVC stages run them) and one per dataset (e.g. ``expt_gap``). A dataset naming a domain
module (``case_study:`` in its declaration) runs the same stages, with the module's cleaning, features,
splits and physics models in them (:mod:`matshift.casestudies.stages`); it is always registered under its
own name, and joins ``__default__`` and the stage pipelines only when its raw file is cached or in
``MATSHIFT_DATA_MIRROR`` (a warning names the ones left out).
"""

from __future__ import annotations

import logging
from functools import partial, update_wrapper
from pathlib import Path

from kedro.pipeline import Pipeline, node, pipeline

from matshift.declarations import check_declaration, load_declarations
from matshift.io.remote_files import RemoteFile, local_availability
from matshift.pipelines import (
    audit,
    evaluate,
    featurize,
    finetune,
    ingest,
    monitor,
    pretrain,
    promote,
    robust,
    split,
    train,
    validate,
)
from matshift.pipelines.evaluate.nodes import build_robustness_report, combine_metrics
from matshift.pipelines.ingest.nodes import combine_materials_tables
from matshift.pipelines.namespacing import for_dataset
from matshift.pipelines.validate.nodes import summarise_validation

# Stages every dataset runs, and those only datasets with splits and models run (a source domain
# such as mp_gap is ingested, validated and featurized for transfer learning, not evaluated alone).
DATA_STAGES = {"ingest": ingest, "validate": validate, "featurize": featurize}
# Stages of a dataset that declares `transfer: {source_dataset: ...}`: pretrain on the source, fine-tune.
TRANSFER_STAGES = {"pretrain": pretrain, "finetune": finetune}
STAGE_ORDER = (
    "ingest",
    "validate",
    "featurize",
    "split",
    "train",
    "pretrain",
    "finetune",
    "robust",
    "evaluate",
    "audit",
    "monitor",
)
logger = logging.getLogger(__name__)


def register_pipelines() -> dict[str, Pipeline]:
    declarations = load_declarations()
    stages: dict[str, Pipeline] = {name: Pipeline([]) for name in STAGE_ORDER}
    per_dataset: dict[str, Pipeline] = {}
    case_studies = [d for d, decl in declarations.items() if decl.get("case_study")]
    # a case study runs in `kedro run` / the stage pipelines only when its raw file is here
    runnable = [d for d in declarations if d not in case_studies or _case_study_available(d, declarations[d])]
    for dataset, declaration in declarations.items():
        # a malformed declaration stops here, naming the dataset and key; a key with no effect is logged
        for warning in check_declaration(dataset, declaration):
            logger.warning(warning)
        per_dataset[dataset] = Pipeline([])
        domain = dataset in case_studies
        for stage, template in _stage_templates(dataset, declaration).items():
            namespaced = (
                _audit_for_dataset(template, dataset)
                if stage == "audit"
                else for_dataset(template, dataset, _source_inputs(declaration, stage), domain=domain)
            )
            if dataset in runnable:
                stages[stage] += namespaced
            per_dataset[dataset] += namespaced

    evaluated = [d for d in runnable if declarations[d].get("splits") and declarations[d].get("models")]
    stages["validate"] += _across_datasets(summarise_validation, runnable, "validation_summary")
    # case studies keep their own tables: the materials table is the band-gap schema
    band_gaps = [d for d in declarations if d not in case_studies]
    stages["validate"] += _across_datasets(combine_materials_tables, band_gaps, "materials_table")
    if evaluated:
        named_metrics = update_wrapper(partial(combine_metrics, evaluated), combine_metrics)
        stages["evaluate"] += _across_datasets(named_metrics, evaluated, "metrics")
    for dataset in evaluated:  # `kedro run --namespaces <dataset>` updates metrics.json too
        published = _publish_metrics(dataset)
        stages["evaluate"] += published
        per_dataset[dataset] += published
    robust_datasets = [d for d in runnable if _runs_robust(declarations[d])]
    if robust_datasets:
        report = update_wrapper(partial(build_robustness_report, robust_datasets), build_robustness_report)
        stages["evaluate"] += Pipeline(
            [
                node(
                    report,
                    inputs=["metrics", *(f"{d}.all_predictions" for d in robust_datasets)],
                    outputs=["robustness_report_html", "robustness_report_md", "robustness_figures"],
                    name="robustness_report",
                )
            ]
        )
    pipelines = {**stages, **per_dataset}
    pipelines["__default__"] = sum(stages.values(), Pipeline([]))
    # an explicit step, never part of a run: it rewrites the evaluate stage's champion
    pipelines["promote"] = sum(
        (
            pipeline(promote.create_pipeline(d), namespace=d, parameters={"params:promote": "params:promote"})
            for d in runnable
            if "monitor" in _stage_templates(d, declarations[d])
        ),
        Pipeline([]),
    )
    return pipelines


def _stage_templates(dataset: str, declaration: dict) -> dict[str, Pipeline]:
    """The stage pipelines a declaration asks for, before namespacing. A domain dataset is cleaned from
    its raw file by its module (no ingest staging), featurized, split and audited by it."""
    domain = bool(declaration.get("case_study"))
    if domain:
        templates = {
            "validate": validate.create_pipeline(dataset, domain=True),
            "featurize": featurize.create_pipeline(dataset, domain=True),
        }
    else:
        templates = {stage: module.create_pipeline(dataset) for stage, module in DATA_STAGES.items()}
    if not (declaration.get("splits") and declaration.get("models")):
        return templates
    with_transfer = bool(declaration.get("transfer"))
    with_robust = _runs_robust(declaration)
    templates["split"] = split.create_pipeline(dataset, domain=domain)
    templates["train"] = train.create_pipeline(dataset)
    if with_transfer:
        templates.update(
            {stage: module.create_pipeline(dataset) for stage, module in TRANSFER_STAGES.items()}
        )
    if with_robust:
        templates["robust"] = robust.create_pipeline(dataset, with_transfer=with_transfer)
    if with_robust:  # the audit compares its OOD score with the robust stage's flag
        templates["audit"] = audit.create_pipeline(dataset, domain=domain)
    if with_robust and declaration.get("monitor"):  # scoring plant batches needs the robust models
        templates["monitor"] = monitor.create_pipeline(dataset, with_transfer=with_transfer)
    templates["evaluate"] = evaluate.create_pipeline(
        dataset,
        with_transfer=with_transfer,
        with_robust=with_robust,
        with_champion=with_robust and bool(declaration.get("monitor")),
    )
    return templates


def _publish_metrics(dataset: str) -> Pipeline:
    """The dataset's entry of ``metrics.json``, merged into the file (the other entries are kept)."""
    entry = update_wrapper(partial(combine_metrics, [dataset]), combine_metrics)
    template = Pipeline([node(entry, inputs="metrics", outputs="project_metrics", name="publish_metrics")])
    return pipeline(template, namespace=dataset)


def _runs_robust(declaration: dict) -> bool:
    # with a transfer source the robust models read the transfer design matrix, else the descriptors
    evaluated = bool(declaration.get("splits") and declaration.get("models"))
    return evaluated and bool(declaration.get("robust"))


def _audit_for_dataset(template: Pipeline, dataset: str) -> Pipeline:
    """Namespace the audit stage; ``params:audit`` is project-wide, like the shared stage parameters."""
    parameters = {"params:audit": "params:audit"}
    if "params:dataset" in template.inputs():  # the case studies' audit reads its declaration
        parameters["params:dataset"] = f"params:datasets.{dataset}"
    return pipeline(template, namespace=dataset, parameters=parameters)


def _case_study_available(dataset: str, declaration: dict) -> bool:
    """Whether the case study's raw file is cached or in the mirror; says why not where it is not."""
    remote = RemoteFile.from_declaration(dataset, declaration, Path.cwd())
    if local_availability(remote):
        return True
    logger.warning(
        "Case study %s left out of the run: %s is not cached and MATSHIFT_DATA_MIRROR does not hold %s "
        "(run `python -m matshift.fetch`, or `kedro run --pipeline %s` for where to get it)",
        dataset,
        remote.filepath,
        remote.mirror_name,
        dataset,
    )
    return False


def _source_inputs(declaration: dict, stage: str) -> dict[str, str] | None:
    """Pretraining reads the source dataset's materials table and features across namespaces."""
    if stage != "pretrain":
        return None
    source = declaration["transfer"]["source_dataset"]
    return {"source_materials_table": f"{source}.materials_table", "source_features": f"{source}.features"}


def _across_datasets(func, datasets: list[str], output: str) -> Pipeline:
    """A node joining each dataset's ``<dataset>.<output>`` into the project-wide ``<output>``."""
    inputs = [f"{dataset}.{output}" for dataset in datasets]
    return Pipeline([node(func, inputs=inputs, outputs=output, name=func.__name__)])
