"""The pipeline registry checks declarations and lets one namespace update metrics.json."""

import copy

import pytest

from matshift import pipeline_registry
from matshift.declarations import DeclarationError

DECLARATION = {
    "source": {"filepath": "data/01_raw/demo/demo.csv"},
    "columns": {"formula": "formula", "target": "target"},
    "target": {"name": "band_gap", "unit": "eV", "min": 0.0, "max": 20.0},
    "domain": "experiment",
    "group": {"derive": "anion_class"},
    "splits": ["leave_cluster_out", {"leave_group_out": "lab"}],
    "models": ["dummy", "erm"],
}


def test_one_namespace_publishes_its_metrics_entry(monkeypatch):
    declarations = {"a": copy.deepcopy(DECLARATION), "b": copy.deepcopy(DECLARATION)}
    monkeypatch.setattr(pipeline_registry, "load_declarations", lambda: declarations)
    pipelines = pipeline_registry.register_pipelines()
    only_a = pipelines["__default__"].only_nodes_with_namespaces(["a"])
    assert "a.project_metrics" in only_a.all_outputs()  # the merged metrics.json, written by namespace a
    assert (
        "metrics" in pipelines["evaluate"].all_outputs()
        and "b.project_metrics" in pipelines["b"].all_outputs()
    )


def test_a_malformed_declaration_stops_registration_naming_dataset_and_key(monkeypatch):
    declarations = {"a": {**DECLARATION, "robust": True}}
    monkeypatch.setattr(pipeline_registry, "load_declarations", lambda: declarations)
    with pytest.raises(DeclarationError, match="a: `robust: true` needs `transfer"):
        pipeline_registry.register_pipelines()
