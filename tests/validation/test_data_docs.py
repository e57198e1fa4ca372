import copy

import pytest

from matshift.validation import validate_staged_table
from matshift.validation.data_docs import RESULT_FILE, GXDataDocsDataset, render_data_docs
from tests.validation.staged import make_staged, rules


@pytest.fixture(scope="module")
def result_json():
    staged = make_staged([{}, {"target": 25.0, "target_raw": "25"}, {"occurrence": 1}])
    return validate_staged_table(staged, rules(), "expt_gap")[3]


def test_render_writes_an_index_naming_the_suite(result_json, tmp_path):
    before = copy.deepcopy(result_json)
    index = render_data_docs(result_json, tmp_path / "site")
    assert index == (tmp_path / "site" / "index.html").resolve()
    assert "expt_gap" in index.read_text(encoding="utf-8")
    pages = list((tmp_path / "site" / "validations").rglob("*.html"))
    assert len(pages) == 1
    page = pages[0].read_text(encoding="utf-8")
    assert "Expectation Suite:" in page and "25.0" in page  # the out-of-range value is shown
    assert (tmp_path / "site" / "expectations" / "expt_gap.html").is_file()
    assert result_json == before


def test_rerender_replaces_the_previous_run(result_json, tmp_path):
    render_data_docs(result_json, tmp_path)
    render_data_docs(result_json, tmp_path)
    assert len(list((tmp_path / "validations").rglob("*.html"))) == 1


def test_kedro_dataset_saves_html_and_loads_the_json(result_json, tmp_path):
    dataset = GXDataDocsDataset(path=str(tmp_path / "gx_data_docs" / "expt_gap"))
    assert not dataset.exists()
    dataset.save(result_json)
    assert dataset.exists()
    assert (tmp_path / "gx_data_docs" / "expt_gap" / "index.html").is_file()
    assert (tmp_path / "gx_data_docs" / "expt_gap" / RESULT_FILE).is_file()
    assert dataset.load() == result_json
    assert "gx_data_docs/expt_gap" in str(dataset)
