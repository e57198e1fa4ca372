"""The layering the folder names promise: library logic lives below ``src/matshift`` outside
``pipelines/``; a stage's folder under ``pipelines/`` only wires that logic into Kedro nodes.

1. No module outside ``matshift.pipelines`` imports from it (the pipeline registry, which composes the
   stages, is the one exception).
2. No module of a stage (``pipelines/<stage>/``) imports another stage's modules: what two stages share
   belongs in the library. ``pipelines/namespacing.py`` (wiring helpers, no stage) is open to every stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "matshift"
PIPELINES = "matshift.pipelines"
# composes every stage's pipeline and its cross-dataset nodes: importing them is its job
MAY_IMPORT_PIPELINES = {"matshift.pipeline_registry"}
SHARED_BY_STAGES = {"matshift.pipelines.namespacing"}


def module_name(path: Path, package_dir: Path = PACKAGE) -> str:
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, package_dir: Path = PACKAGE) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in the file, nested ones included; relative imports resolved,
    and ``from package import name`` also counted as an import of ``package.name`` (it may be a module)."""
    name = module_name(path, package_dir)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def stage_of(module: str) -> str | None:
    """``train`` for ``matshift.pipelines.train.nodes``; None outside a stage's folder."""
    parts = module.split(".")
    if len(parts) < 3 or not in_package(module, PIPELINES):
        return None
    stage_package = ".".join(parts[:3])
    return parts[2] if stage_package not in SHARED_BY_STAGES else None


def library_imports_a_pipeline(module: str, imported: str) -> bool:
    return (
        not in_package(module, PIPELINES)
        and module not in MAY_IMPORT_PIPELINES
        and in_package(imported, PIPELINES)
    )


def stage_imports_another_stage(module: str, imported: str) -> bool:
    # nodes.py, pipeline.py and __init__.py alike: a pipeline wiring another stage's node is a dependency too
    own, other = stage_of(module), stage_of(imported)
    return own is not None and other is not None and other != own


def violations(rule, package_dir: Path = PACKAGE) -> list[str]:
    """``file:line imports module`` for every import the rule forbids, one per import statement."""
    found: dict[tuple[str, int], str] = {}
    for path in sorted(package_dir.rglob("*.py")):
        module = module_name(path, package_dir)
        for line, imported in imported_modules(path, package_dir):
            where = (str(path.relative_to(package_dir.parent)), line)
            if rule(module, imported) and where not in found:  # ``from m import a`` also yields ``m.a``
                found[where] = imported
    return [f"{file}:{line} imports {imported}" for (file, line), imported in sorted(found.items())]


def write_modules(root: Path, sources: dict[str, str]) -> Path:
    """A throwaway ``matshift`` package under ``root``: ``{relative path: source}``."""
    for relative, source in sources.items():
        (root / "matshift" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "matshift" / relative).write_text(source)
    return root / "matshift"


def test_the_scan_sees_the_package_and_its_imports():
    # guards against a test that passes because it looked at nothing
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    assert {"matshift.pipelines.train.nodes", "matshift.monitoring.scoring"} <= modules
    registry = {imported for _, imported in imported_modules(PACKAGE / "pipeline_registry.py")}
    assert any(in_package(imported, PIPELINES) for imported in registry)
    train_pipeline = {imported for _, imported in imported_modules(PACKAGE / "pipelines/train/pipeline.py")}
    assert "matshift.pipelines.train.nodes" in train_pipeline


def test_the_rules_catch_each_kind_of_violation(tmp_path):
    package = write_modules(
        tmp_path,
        {
            "pipeline_registry.py": "from matshift.pipelines.train.nodes import fit\n",
            "monitoring/scoring.py": "def score():\n    from matshift.pipelines.robust import nodes\n",
            "pipelines/train/nodes.py": "from matshift.splits import split_folds\n",
            "pipelines/train/pipeline.py": "from .nodes import fit\nfrom ..namespacing import bind_dataset\n",
            "pipelines/finetune/nodes.py": "from ..train.nodes import fit\n",
            "pipelines/audit/pipeline.py": "import matshift.pipelines.evaluate.nodes\n",
        },
    )
    assert violations(library_imports_a_pipeline, package) == [
        "matshift/monitoring/scoring.py:2 imports matshift.pipelines.robust"
    ]
    assert violations(stage_imports_another_stage, package) == [
        "matshift/pipelines/audit/pipeline.py:1 imports matshift.pipelines.evaluate.nodes",
        "matshift/pipelines/finetune/nodes.py:1 imports matshift.pipelines.train.nodes",
    ]


def test_no_library_module_imports_a_pipeline():
    found = violations(library_imports_a_pipeline)
    assert not found, (
        "library code must not depend on a pipeline; move what it needs below src/matshift:\n"
        + ("\n".join(found))
    )


def test_no_stage_imports_another_stage():
    found = violations(stage_imports_another_stage)
    assert not found, "a stage's module imports another stage's; share it through the library:\n" + (
        "\n".join(found)
    )
