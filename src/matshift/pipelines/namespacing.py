"""Instantiate a stage's pipeline once per declared dataset, under the dataset's namespace."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Pipeline, pipeline

# Parameters shared by every dataset; everything else a node reads is the dataset's own declaration.
SHARED_PARAMETERS = (
    "split",
    "train",
    "transfer",
    "robust",
    "evaluate",
    "monitor",
    "case_studies",
    "case_studies.split",
    "case_studies.evaluate",
)
# A dataset with a domain module (`case_study:`) reads its stage parameters from `case_studies`
# (lighter models for a few thousand rows): stage parameter -> its parameter there.
DOMAIN_PARAMETERS = {
    "params:train": "params:case_studies",
    "params:split": "params:case_studies.split",
    "params:robust": "params:case_studies.robust",
    "params:evaluate": "params:case_studies.evaluate",
}


def bind_dataset(func: Callable[..., Any], dataset: str) -> Callable[..., Any]:
    """``func`` with its ``dataset`` argument fixed, keeping its name for Kedro and kedro-viz."""
    return update_wrapper(partial(func, dataset=dataset), func)


def for_dataset(
    template: Pipeline, dataset: str, inputs: dict[str, str] | None = None, domain: bool = False
) -> Pipeline:
    """Namespace a stage: ``staged`` becomes ``<dataset>.staged``, ``params:dataset`` its declaration;
    a domain dataset's stage parameters come from :data:`DOMAIN_PARAMETERS`."""
    mapping = {"params:dataset": f"params:datasets.{dataset}"}
    mapping.update({f"params:{name}": f"params:{name}" for name in SHARED_PARAMETERS})
    if domain:
        mapping.update(DOMAIN_PARAMETERS)
    used = template.inputs()
    parameters = {key: value for key, value in mapping.items() if key in used}
    # `inputs` maps template inputs onto another dataset's outputs (e.g. the transfer source's table).
    return pipeline(template, namespace=dataset, parameters=parameters, inputs=inputs)
