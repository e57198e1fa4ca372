import pandas as pd

from matshift.featurizers import featurize_materials


def test_features_once_per_unique_composition():
    table = pd.DataFrame({"composition": ["NaCl", "O3Fe2", "NaCl", None]})
    features = featurize_materials(table)
    assert list(features.index) == ["NaCl", "O3Fe2"] and features.index.name == "composition"
    assert features.loc["NaCl", "MagpieData mean Number"] == 14.0
