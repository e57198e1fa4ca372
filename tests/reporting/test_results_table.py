import json

import pytest

from matshift.reporting.results_table import END_MARKER, START_MARKER, dataset_table, main, replace_section

METRICS = {
    "expt_gap": {
        "matbench_cv": {
            "erm": {
                "mae": 0.4,
                "worst_group_mae": 1.0,
                "mae_seen_in_source": 0.3,
                "mae_unseen_in_source": 0.5,
            },
            "lookup": {
                "mae": 0.3,
                "worst_group_mae": 0.9,
                "mae_seen_in_source": 0.2,
                "mae_unseen_in_source": float("nan"),
            },
        },
        "leave_cluster_out": {
            "erm": {"mae": 0.8, "worst_group_mae": 1.2},
            "lookup": {"mae": 0.4, "worst_group_mae": 1.1},
        },
    }
}


def test_every_model_is_a_row_sorted_by_the_first_split_with_ratios_to_erm():
    table = dataset_table(METRICS["expt_gap"]).splitlines()
    assert table[2].startswith("| `lookup` | 0.300 (0.75) | 0.400 (0.50) | 0.200 | – |")
    assert table[3].startswith("| `erm` | 0.400 (1.00) | 0.800 (1.00) | 0.300 | 0.500 |")


def test_main_rewrites_only_the_marked_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START_MARKER}\nold\n{END_MARKER}\nafter\n")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(METRICS))
    assert main(["--metrics", str(metrics), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("after\n") and "old" not in text
    assert "#### expt_gap" in text and "`lookup`" in text


def test_missing_markers_say_what_to_add():
    with pytest.raises(ValueError, match="results:start"):
        replace_section("no markers", "table")


def test_tables_that_cannot_be_regenerated_are_kept(tmp_path, capsys):
    readme = tmp_path / "README.md"
    old_tables = "#### expt_gap\n\nold expt table\n\n#### hea_hardness\n\n| hea table |\n"
    readme.write_text(f"intro\n{START_MARKER}\n{old_tables}{END_MARKER}\nafter\n")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(METRICS))  # holds expt_gap only (the case study did not run)
    assert main(["--metrics", str(metrics), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old expt table" not in text and "`lookup`" in text
    assert "#### hea_hardness\n\n| hea table |\n" in text
    assert text.index("#### expt_gap") < text.index("#### hea_hardness")
    assert "kept as they were" in capsys.readouterr().out
