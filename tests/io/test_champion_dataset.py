"""The champion is loaded only as pinned: the project's registry or artefact, sha256 checked first."""

import json
import pickle

import pytest
from kedro.io import DatasetError

from matshift.io.champion_dataset import (
    ChampionChoiceDataset,
    ChampionModelDataset,
    file_sha256,
    project_registry_uri,
    record_registration,
    registered_model_name,
)
from matshift.tracking.mlflow_logging import register_champion


class Model:
    """Stands for a fitted champion: any picklable object."""

    def __init__(self, value):
        self.value = value


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MATSHIFT_CHAMPION_SOURCE", raising=False)
    monkeypatch.setenv("MATSHIFT_TRACKING", "on")
    return tmp_path


def model_dataset(project) -> ChampionModelDataset:
    return ChampionModelDataset(str(project / "champion.pkl"), registered_model_name("demo"))


def save_champion(project, value, model="m") -> None:
    """As the evaluate stage does: the model, then its record (the pin follows either order)."""
    model_dataset(project).save(Model(value))
    ChampionChoiceDataset(str(project / "champion.json"), str(project / "champion.pkl")).save(
        {"model": model}
    )


def register(project, model="m") -> str:
    path, record = project / "champion.pkl", project / "champion.json"
    uri = project_registry_uri(project)
    version = register_champion("demo", path, {"model": model}, {}, registry_uri=uri)
    registry = {"model": "matshift-demo", "version": version, "uri": uri}
    record_registration(record, file_sha256(path), registry)
    return version


def test_the_record_pins_the_artefact_bytes_whichever_is_saved_first(project):
    choice = ChampionChoiceDataset(str(project / "champion.json"), str(project / "champion.pkl"))
    choice.save({"model": "a"})
    model_dataset(project).save(Model(1))  # model after record
    assert choice.load()["artefact"]["sha256"] == file_sha256(project / "champion.pkl")
    model_dataset(project).save(Model(2))
    choice.save({"model": "b"})  # record after model
    pin = choice.load()["artefact"]
    assert pin["sha256"] == file_sha256(project / "champion.pkl") and pin["registry"] is None


def test_without_a_registry_the_hashed_local_artefact_is_loaded_and_says_so(project):
    save_champion(project, 1)
    loaded = model_dataset(project).load()
    assert loaded.value == 1 and loaded.loaded_from_.startswith("local artefact")
    assert "mlflow.db absent" in loaded.loaded_from_


def test_no_artefact_is_an_actionable_error(project):
    with pytest.raises(DatasetError, match="run the evaluate"):
        model_dataset(project).load()


def test_an_artefact_without_a_pin_is_refused(project):
    model_dataset(project).save(Model(1))  # no record: nothing says these bytes are the project's
    with pytest.raises(DatasetError, match="no sha256 pin"):
        model_dataset(project).load()


def test_a_local_artefact_that_does_not_match_its_pin_is_an_error_naming_both_hashes(project):
    save_champion(project, 1)
    expected = file_sha256(project / "champion.pkl")
    (project / "champion.pkl").write_bytes(pickle.dumps(Model(666)))
    with pytest.raises(DatasetError, match=f"sha256 mismatch, expected {expected}, found"):
        model_dataset(project).load()


def test_the_pinned_registry_version_is_loaded_even_after_the_alias_moved(project, monkeypatch):
    save_champion(project, 1)
    assert register(project) == "1"
    pinned = (project / "champion.json").read_text()
    pinned_model = (project / "champion.pkl").read_bytes()
    save_champion(project, 2)
    assert register(project) == "2"  # the alias moves to version 2
    # `git checkout` + `dvc checkout` of the earlier commit: artefact and record of version 1
    (project / "champion.json").write_text(pinned)
    (project / "champion.pkl").write_bytes(pinned_model)
    loaded = model_dataset(project).load()
    assert loaded.value == 1
    assert loaded.loaded_from_.startswith("models:/matshift-demo/1 from sqlite:///")
    assert "alias 'champion' is at version 2" in loaded.loaded_from_


def test_another_tracking_server_is_never_loaded_from(project, monkeypatch, tmp_path_factory):
    save_champion(project, 1)
    register(project)
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "other.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere}")  # holds no such model
    loaded = model_dataset(project).load()
    assert loaded.value == 1 and str(project / "mlflow.db") in loaded.loaded_from_


def test_a_reachable_registry_that_fails_is_an_error_not_a_fallback(project):
    save_champion(project, 1)
    register(project)
    record = project / "champion.json"
    record.write_text(record.read_text().replace('"version": "1"', '"version": "7"'))
    with pytest.raises(DatasetError, match="matshift-demo version 7 could not be loaded from the project"):
        model_dataset(project).load()


def test_registered_bytes_that_differ_from_the_pin_are_an_error(project):
    save_champion(project, 1)
    register(project)
    record = project / "champion.json"
    data = json.loads(record.read_text())
    data["artefact"]["sha256"] = "0" * 64  # the record pins other bytes than version 1 holds
    record.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=f"version 1: sha256 mismatch, expected {'0' * 64}"):
        model_dataset(project).load()


def test_local_source_uses_the_hashed_artefact_without_the_registry(project, monkeypatch):
    save_champion(project, 1)
    register(project)
    monkeypatch.setenv("MATSHIFT_CHAMPION_SOURCE", "local")
    loaded = model_dataset(project).load()
    assert loaded.value == 1 and "MATSHIFT_CHAMPION_SOURCE=local" in loaded.loaded_from_
