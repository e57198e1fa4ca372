import pandas as pd

from matshift.io.safe_csv import SpreadsheetSafeCSVDataset, neutralise_formulas

HOSTILE = ["=cmd|' /C calc'!A0", "@SUM(1+1)", '+HYPERLINK("http://x")', "-2+3+cmd|x", "\tTAB", "\rCR"]


def test_formula_leading_text_is_prefixed_and_numbers_stay_numbers():
    frame = pd.DataFrame(
        {
            "formula": [*HOSTILE, "NaCl"],
            "target_raw": ["-1.2", "+3e5", "8.5", "=1+1", None, "", "-"],
            "prediction": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "=header": 1,
        }
    )
    safe = neutralise_formulas(frame)
    assert safe["formula"].tolist() == ["'" + text for text in HOSTILE] + ["NaCl"]
    assert safe["target_raw"].tolist()[:4] == ["-1.2", "+3e5", "8.5", "'=1+1"]
    assert safe["target_raw"].iloc[4] is None and safe["target_raw"].iloc[6] == "'-"
    assert safe["prediction"].tolist() == frame["prediction"].tolist()
    assert list(safe.columns) == ["formula", "target_raw", "prediction", "'=header"]
    assert frame["formula"].iloc[0] == HOSTILE[0]  # the input is not modified


def test_the_catalog_dataset_writes_neutralised_cells(tmp_path):
    path = tmp_path / "quarantine.csv"
    dataset = SpreadsheetSafeCSVDataset(filepath=str(path), save_args={"index": False})
    dataset.save(pd.DataFrame({"formula": ["=cmd|x", "NaCl"], "rows": [1, 2]}))
    assert path.read_text().splitlines() == ["formula,rows", "'=cmd|x,1", "NaCl,2"]
    assert dataset.load()["rows"].tolist() == [1, 2]
