"""The declaration examples in the README's "Datasets: run one, add one" are valid declarations."""

import re

import yaml

from matshift.declarations import check_declaration
from tests.conftest import PROJECT_ROOT


def test_readme_declaration_examples_pass_the_checks():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Datasets: run one, add one", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    declarations = yaml.safe_load(blocks[0])["datasets"]
    declarations.update(yaml.safe_load("datasets:\n" + blocks[1])["datasets"])
    assert set(declarations) == {"my_gaps", "my_steel", "my_electrolytes", "my_alloy_hardness"}
    for name, declaration in declarations.items():
        assert check_declaration(name, declaration) == [], name
    # the domain-module form names a registered module and that module's splits and physics models
    from matshift.casestudies import case_study_module

    domain = declarations["my_alloy_hardness"]
    module = case_study_module(domain["case_study"])
    assert set(domain["physics_models"]) <= set(module.PHYSICS_MODELS)
