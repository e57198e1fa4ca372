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
    declarations = {"a": {**DECLARATION, "splits": [{"leave_group_out": 3}]}}
    monkeypatch.setattr(pipeline_registry, "load_declarations", lambda: declarations)
    with pytest.raises(DeclarationError, match=r"a.splits: \{'leave_group_out': 3\}"):
        pipeline_registry.register_pipelines()


def test_robust_and_monitoring_run_without_a_transfer_source(monkeypatch):
    """An alloy-like dataset (element fractions + process columns, no transfer source) gets the robust
    stage, the champion and plant-batch monitoring, none of which reads a source table."""
    declaration = {
        **DECLARATION,
        "columns": {"target": "ys"},
        "composition": {"basis": "at%", "columns": {"Fe": "Fe", "Ni": "Ni"}},
        "process_columns": {"anneal_K": {"column": "T", "unit": "K", "min": 0, "max": 2000}},
        "robust": True,
        "monitor": True,
    }
    monkeypatch.setattr(pipeline_registry, "load_declarations", lambda: {"a": declaration})
    pipelines = pipeline_registry.register_pipelines()
    a = pipelines["a"]
    names = {n.name for n in a.nodes}
    assert {"a.robust_train_and_predict", "a.fit_champion", "a.monitor_plant_batches"} <= names
    assert {"a.pretrain_source_models", "a.finetune_and_predict"}.isdisjoint(names)
    assert not [i for i in a.inputs() if "source" in i]
    assert "a.all_predictions" in a.all_outputs()  # baseline + robust side by side for the report
