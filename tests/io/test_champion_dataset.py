import pickle

import pytest
from kedro.io import DatasetError

from matshift.io.champion_dataset import ChampionModelDataset, registered_model_name
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


def dataset(project) -> ChampionModelDataset:
    return ChampionModelDataset(str(project / "champion.pkl"), registered_model_name("demo"))


def test_without_a_registry_the_local_artefact_is_loaded_and_says_so(project):
    dataset(project).save(Model(1))
    loaded = dataset(project).load()
    assert loaded.value == 1 and loaded.loaded_from_.startswith("local artefact")
    assert "mlflow.db absent" in loaded.loaded_from_


def test_no_registry_and_no_artefact_is_an_actionable_error(project):
    with pytest.raises(DatasetError, match="run the evaluate stage first"):
        dataset(project).load()


def test_the_registered_champion_is_loaded_by_alias_and_the_alias_moves_to_a_new_version(
    project, monkeypatch
):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    champion = dataset(project)
    champion.save(Model(1))
    assert register_champion("demo", project / "champion.pkl", {"model": "m1"}, {}) == "1"
    champion.save(Model(2))
    assert register_champion("demo", project / "champion.pkl", {"model": "m2"}, {}) == "2"
    (project / "champion.pkl").write_bytes(pickle.dumps(Model(3)))  # the registry wins when reachable

    loaded = champion.load()
    assert loaded.value == 2 and loaded.loaded_from_ == "models:/matshift-demo@champion (version 2)"
    monkeypatch.setenv("MATSHIFT_CHAMPION_SOURCE", "local")  # reproduce a checked-out commit exactly
    assert champion.load().value == 3
