"""``make promote BATCH=<batch>`` finds the one dataset whose monitor run proposed the batch."""

import json

import pytest

from matshift.monitoring.proposals import dataset_proposing, main


def write_proposal(root, dataset, batch):
    folder = root / dataset
    folder.mkdir(parents=True)
    (folder / "proposal.json").write_text(json.dumps({"dataset": dataset, "batch": batch}))


def test_the_dataset_proposing_the_batch_is_found(tmp_path, capsys):
    write_proposal(tmp_path, "expt_gap", "line_7")
    write_proposal(tmp_path, "hea_hardness", None)
    assert dataset_proposing("line_7", tmp_path) == "expt_gap"


def test_a_batch_nobody_proposed_or_several_did_is_refused_naming_the_proposals(tmp_path):
    write_proposal(tmp_path, "expt_gap", "line_7")
    write_proposal(tmp_path, "hea_hardness", "line_7")
    with pytest.raises(LookupError, match="several datasets \\['expt_gap', 'hea_hardness'\\]"):
        dataset_proposing("line_7", tmp_path)
    with pytest.raises(LookupError, match="no monitor run proposed batch 'line_8'.*'expt_gap': 'line_7'"):
        dataset_proposing("line_8", tmp_path)


def test_the_command_line_prints_the_dataset_or_exits_2(tmp_path, monkeypatch, capsys):
    monitoring = tmp_path / "data/08_reporting/monitoring"
    write_proposal(monitoring, "expt_gap", "line_7")
    monkeypatch.chdir(tmp_path)
    assert main(["line_7"]) == 0 and capsys.readouterr().out.strip() == "expt_gap"
    assert main(["line_9"]) == 2 and "no monitor run proposed" in capsys.readouterr().err
