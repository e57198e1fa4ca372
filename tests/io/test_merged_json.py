import json

import pytest
from kedro.io import DatasetError

from matshift.io.merged_json import MergedJSONDataset


def test_save_updates_the_saved_keys_and_keeps_the_others(tmp_path):
    path = tmp_path / "reporting" / "metrics.json"
    dataset = MergedJSONDataset(str(path))
    dataset.save({"expt_gap": {"matbench_cv": {"erm": {"mae": 0.4}}}, "hea_hardness": {"a": 1}})
    dataset.save({"hea_hardness": {"a": 2}})  # kedro run --namespaces hea_hardness
    assert dataset.load() == {"expt_gap": {"matbench_cv": {"erm": {"mae": 0.4}}}, "hea_hardness": {"a": 2}}
    assert json.loads(path.read_text()) == dataset.load()
    assert [p.name for p in path.parent.iterdir() if p.suffix == ".part"] == []


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "metrics.json"
    with pytest.raises(DatasetError, match="metrics.json does not exist"):
        MergedJSONDataset(str(path)).load()
    path.write_text("[1, 2]")
    with pytest.raises(DatasetError, match="metrics.json holds list"):
        MergedJSONDataset(str(path)).save({"a": 1})
    path.write_text("{")
    with pytest.raises(DatasetError, match="metrics.json is not valid JSON"):
        MergedJSONDataset(str(path)).load()
