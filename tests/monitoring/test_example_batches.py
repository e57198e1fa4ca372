"""Example batches: read, quarantined or shifted where they should be."""

import importlib.util

import pandas as pd

from matshift.monitoring.batches import read_batches
from matshift.monitoring.drift import diagnose_shift, domain_classifier_drift
from tests.conftest import PROJECT_ROOT


def load_script():
    spec = importlib.util.spec_from_file_location(
        "make_example_batches", PROJECT_ROOT / "scripts/make_example_batches.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_read_quarantine_and_drift_as_documented(tmp_path, expt_gap_raw):
    script = load_script()
    expt_gap = expt_gap_raw.drop(columns="source_row")
    for name, frame in script.example_batches(expt_gap).items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    result = read_batches(tmp_path.iterdir(), {"formula": None}, optional={"target": "eV"})
    assert set(result.batches) == {"clean", "shifted", "unlabelled", "malformed"}
    assert result.quarantine["reason"].tolist() == ["unit_mismatch"]
    assert "target" in result.batches["clean"] and "target" not in result.batches["unlabelled"]
    labelled_only = read_batches(tmp_path.iterdir(), {"formula": None, "target": "eV"})
    assert set(labelled_only.quarantine["reason"]) == {"missing_column", "unit_mismatch"}

    # drift on a simple descriptor: the halide batch moved, the clean one did not
    from matshift.chemistry.formula import element_fractions

    def halogen_fraction(frame: pd.DataFrame) -> pd.DataFrame:
        fractions = frame["formula"].map(element_fractions)
        return pd.DataFrame(
            {
                "halogen": fractions.map(lambda f: sum(f.get(e, 0.0) for e in ("F", "Cl", "Br", "I"))),
                "n_elements": fractions.map(len),
            }
        )

    reference = halogen_fraction(expt_gap)
    for name, shifted in (("clean", False), ("shifted", True)):
        domain = domain_classifier_drift(reference, halogen_fraction(result.batches[name]), n_permutations=19)
        assert diagnose_shift(domain).covariate is shifted, name
