"""Promotion is a decision: a monitor run proposes at most one challenger and moves nothing; the promote
step moves the artefact and the registry alias together."""

import json
import pickle

import pytest
from kedro.io import DataCatalog
from mlflow import MlflowClient

from matshift.hooks import MlflowTrackingHooks
from matshift.io.champion_dataset import (
    ChampionChoiceDataset,
    ChampionModelDataset,
    file_sha256,
    registered_model_name,
)
from matshift.io.pinned_bytes import pickled
from matshift.pipelines.monitor.nodes import _kept_evaluation, _proposal
from matshift.pipelines.monitor.pipeline import create_pipeline as monitor_pipeline
from matshift.pipelines.promote.nodes import PromotionError, promote_challenger


class Model:
    def __init__(self, value):
        self.value = value


def decision(challenger_mae: float, eligible: bool = True) -> dict:
    return {
        "evaluated": True,
        "promote": True,
        "reason": "ok",
        "eligible": eligible,
        "champion_plant_worst_group_mae": 1.0,
        "challenger_plant_worst_group_mae": challenger_mae,
    }


def batch_entry(challenger: dict, sha: str) -> dict:
    drift = {"kinds": [], "auc": 0.5, "p_value": 0.5}
    counts = {"rows_in": 40, "scored": 40, "quarantined": 0, "uncertain_fraction": 0.1}
    return {"sha256": sha, "drift": drift, **counts, "challenger": challenger}


def stored_challengers(summary: dict) -> dict:
    """The challenger partitions as the promote step loads them: each batch's pickle bytes."""
    return {b: (lambda b=b: pickled(Model(b))[0]) for b in summary["batches"]}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MATSHIFT_CHAMPION_SOURCE", raising=False)
    monkeypatch.setenv("MATSHIFT_TRACKING", "on")
    catalog = DataCatalog(
        {
            "demo.champion_model": ChampionModelDataset(
                str(tmp_path / "demo.pkl"), registered_model_name("demo")
            ),
            "demo.champion": ChampionChoiceDataset(str(tmp_path / "demo.json"), str(tmp_path / "demo.pkl")),
        }
    )
    catalog.save("demo.champion_model", Model("original"))
    catalog.save("demo.champion", {"model": "catboost_uncertainty", "split": "leave_cluster_out"})
    MlflowTrackingHooks._register_champion(catalog, "demo", {}, tmp_path)
    return tmp_path, catalog


def alias_version(project_path) -> str:
    client = MlflowClient(tracking_uri=f"sqlite:///{project_path / 'mlflow.db'}")
    return str(client.get_model_version_by_alias("matshift-demo", "champion").version)


def monitor_run(project_path, catalog) -> tuple[dict, dict]:
    """The outputs a monitor run with three eligible labelled batches hands to the hooks."""
    record = catalog.load("demo.champion")
    summary = {
        "champion": {**record, "loaded_from": "test"},
        "batches": {
            "b_small_gain": batch_entry(decision(0.9), "s1"),
            "c_big_gain": batch_entry(decision(0.5), "s2"),
            "a_not_eligible": batch_entry(decision(0.1, eligible=False), "s3"),
            "d_big_gain": batch_entry(decision(0.5), "s4"),
        },
        "bad_files": [],
    }
    for batch, entry in summary["batches"].items():  # as the monitor node pins each challenger's bytes
        entry["challenger"]["sha256"] = pickled(Model(batch))[1]
    proposal = _proposal("demo", summary, record)
    outputs = {
        "demo.monitoring_summary": summary,
        "demo.monitoring_reports": {},
        "demo.challenger_models": stored_challengers(summary),
        "demo.champion_proposal": proposal,
    }
    hooks = MlflowTrackingHooks()
    hooks.before_pipeline_run({"project_path": str(project_path)})
    hooks.after_node_run(None, outputs)
    return summary, proposal


def test_a_monitor_run_proposes_at_most_one_challenger_and_moves_nothing(project):
    project_path, catalog = project
    sha_before, version_before = file_sha256(project_path / "demo.pkl"), alias_version(project_path)
    summary, proposal = monitor_run(project_path, catalog)
    assert proposal["batch"] == "c_big_gain"  # the largest improvement, ties by name
    assert proposal["command"] == "make promote BATCH=c_big_gain"
    assert proposal["against_champion"]["sha256"] == sha_before
    assert file_sha256(project_path / "demo.pkl") == sha_before
    assert alias_version(project_path) == version_before
    assert not {"champion_model", "champion"} & monitor_pipeline("demo").all_outputs()


def test_applying_the_proposal_moves_artefact_and_registry_together(project):
    project_path, catalog = project
    summary, proposal = monitor_run(project_path, catalog)
    challengers = stored_challengers(summary)
    model, record, kept_predictions, kept_reports = promote_challenger(
        proposal,
        summary,
        challengers,
        catalog.load("demo.champion"),
        {},
        {"c_big_gain": lambda: "<html>"},
        {"batch": "c_big_gain"},
        "demo",
    )
    assert record["promoted_from_batch"] == "c_big_gain" and record["fitted_on_batches"] == {
        "c_big_gain": "s2"
    }
    assert kept_reports == {"c_big_gain": "<html>"}
    catalog.save("demo.champion_model", model)  # the catalog writes the artefact first...
    catalog.save("demo.champion", record)
    MlflowTrackingHooks._register_champion(catalog, "demo", {}, project_path)  # ...then the registry
    pin = json.loads((project_path / "demo.json").read_text())["artefact"]
    assert pin["sha256"] == file_sha256(project_path / "demo.pkl")
    assert pin["registry"]["version"] == alias_version(project_path) == "2"
    client = MlflowClient(tracking_uri=f"sqlite:///{project_path / 'mlflow.db'}")
    assert client.get_model_version("matshift-demo", "2").tags["champion_sha256"] == pin["sha256"]
    loaded = catalog.load("demo.champion_model")
    assert loaded.value == "c_big_gain" and loaded.loaded_from_.startswith("models:/matshift-demo/2")


def test_promote_refuses_another_batch_a_stale_proposal_and_an_ineligible_batch(project, monkeypatch):
    project_path, catalog = project
    summary, proposal = monitor_run(project_path, catalog)
    record = catalog.load("demo.champion")
    challengers = stored_challengers(summary)

    def apply(batch, proposal=proposal, record=record, challengers=challengers):
        return promote_challenger(proposal, summary, challengers, record, {}, {}, {"batch": batch}, "demo")

    # a challenger file replaced after the monitor run is refused before it is unpickled
    unpickled = []
    tampered = {**challengers, "c_big_gain": lambda: pickled(Model("replaced"))[0]}
    with pytest.raises(PromotionError, match="the file changed since it was evaluated"):
        apply("c_big_gain", challengers=tampered)
    loads = pickle.loads
    monkeypatch.setattr(pickle, "loads", lambda data: unpickled.append(data) or loads(data))
    with pytest.raises(PromotionError, match="has sha256"):
        apply("c_big_gain", challengers=tampered)
    assert not unpickled
    unpinned = {k: v for k, v in summary["batches"]["c_big_gain"]["challenger"].items() if k != "sha256"}
    with pytest.raises(PromotionError, match="pins no challenger sha256"):
        promote_challenger(
            proposal,
            {
                "batches": {
                    **summary["batches"],
                    "c_big_gain": {**summary["batches"]["c_big_gain"], "challenger": unpinned},
                }
            },
            challengers,
            record,
            {},
            {},
            {"batch": "c_big_gain"},
            "demo",
        )

    with pytest.raises(PromotionError, match="'a_not_eligible' is not the monitor run's proposal"):
        apply("a_not_eligible")
    with pytest.raises(PromotionError, match="name the batch"):
        apply(None)
    stale = {**record, "artefact": {**record["artefact"], "sha256": "f" * 64}}
    with pytest.raises(PromotionError, match="judged against champion sha256"):
        apply("c_big_gain", record=stale)
    summary["batches"]["c_big_gain"]["challenger"]["eligible"] = False
    with pytest.raises(PromotionError, match="not eligible"):
        apply("c_big_gain")


def test_a_batch_the_champion_was_fitted_on_keeps_its_first_evaluation():
    kept = {"b": {"labelled_mae": 0.3, "challenger": {"eligible": True}, "sha256": "s"}}
    counts = {"rows_in": 40, "scored": 40, "quarantined": 0, "sha256": "s"}
    entry = _kept_evaluation("b", counts, {"b": "s"}, kept)
    assert entry["labelled_mae"] == 0.3 and entry["not_rescored"].startswith("not re-scored")
    changed = _kept_evaluation("b", {**counts, "sha256": "other"}, {"b": "s"}, kept)
    assert "the file changed since" in changed["not_rescored"]
    # its kept decision is history: never proposed again (it was, after a promotion, before this fix)
    assert entry["challenger"]["eligible"] is False and kept["b"]["challenger"]["eligible"] is True
    summary = {"batches": {"b": {**entry, "challenger": {**entry["challenger"], "eligible": True}}}}
    assert _proposal("demo", summary, {"model": "m"})["batch"] is None


def test_the_promote_pipeline_reads_only_catalog_entries_and_writes_the_champion():
    from kedro.config import OmegaConfigLoader

    from matshift.pipelines.promote.pipeline import create_pipeline as promote_pipeline
    from tests.conftest import PROJECT_ROOT

    config = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")
    catalog = DataCatalog.from_config(config["catalog"])
    pipeline = promote_pipeline("expt_gap")
    for name in pipeline.inputs() - {"params:promote"}:
        assert f"expt_gap.{name}" in catalog, name
    assert pipeline.all_outputs() >= {"champion_model", "champion"}
    assert "promote" in config["parameters"] and config["parameters"]["promote"]["batch"] is None
    described = catalog.get("expt_gap.champion_model")._describe()
    assert described["record_filepath"].endswith("data/06_models/champion/expt_gap.json")
