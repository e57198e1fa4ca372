import pandas as pd
import pytest

from matshift.featurizers.process import process_feature_matrix, sample_design_matrix


def test_design_matrix_joins_descriptors_and_process_columns_per_sample():
    features = pd.DataFrame({"d": [1.0, 2.0]}, index=["NaCl", "ZnO"])
    table = pd.DataFrame(
        {
            "sample_id": ["a", "b", "c"],
            "composition": ["ZnO", "NaCl", "ZnO"],
            "target": [1.0, 2.0, 3.0],
            "T": [300.0, None, 500.0],
            "route": pd.Categorical(["cast", "cast", None], categories=["cast", "wrought"]),
            "lab": pd.array(["x", "y", "z"], dtype="string"),  # metadata: not an input
        }
    )
    X = sample_design_matrix(table, features)
    assert list(X.index) == ["a", "b", "c"]
    assert list(X.columns) == ["d", "T", "route=cast", "route=wrought"]
    assert X["d"].tolist() == [2.0, 1.0, 2.0]
    assert X["route=wrought"].tolist() == [0.0, 0.0, 0.0] and X["route=cast"].tolist() == [1.0, 1.0, 0.0]


def test_text_process_column_is_an_error_naming_it():
    with pytest.raises(TypeError, match="process column 'route'"):
        process_feature_matrix(pd.DataFrame({"route": ["cast"]}, dtype=object))
