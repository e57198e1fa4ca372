"""Time and measure what an operator waits for: ``kedro run --pipeline monitor`` on new plant batches.

Three cases, each one ``kedro run --pipeline monitor`` (the command a user runs, so the MLflow hook,
the catalog's reads and writes and Kedro's start-up are included) in a scratch project:

- one 1,000-row batch (goal <= 20 s);
- one 50,000-row batch (goal <= 60 s);
- 25 batches of 40 rows (goal <= 30 s, all in one run).

Batch rows are rows of the embedded ``data/01_raw/matbench/expt_gap.csv`` (formula and measured gap),
drawn with replacement for the large batch, where a row drawn again gets its gap + 0.0001 eV per
repeat (the validate suite quarantines identical rows); nothing else is changed, so every row is
scored. Peak RSS is the ``kedro`` process's own (``os.wait4``): memory flat in batch size shows as the
50,000-row figure staying near the 1,000-row one. CPU seconds (user + system, same source) move less
than wall seconds when other work shares the machine.

The scratch project (``--workdir``, reused between runs) needs the upstream artefacts the monitor
stage reads: the first call builds them with ``kedro run --env smoke --pipeline <stage>`` for
ingest, validate, featurize, split and pretrain on the embedded data with a 3,000-row MP sample, as
``tests/e2e`` does, then fits the champion ``--champion KEY`` (default ``catboost_uncertainty``; a
transductive one such as ``importance_weighting`` refits per batch, by design) with the evaluate
stage's own ``fit_champion`` and smoke robust parameters (on every call, with the checkout's
``conf``), and saves it through the catalog's champion datasets
(``data/06_models/champion/expt_gap.pkl`` + ``.json``, sha256-pinned; it is not registered in
MLflow, so the monitor loads the local artefact). Run inside the venv:

    python benchmarks/monitor_batches.py [--workdir /tmp/matshift_monitor_bench] [--cases small,large,many]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
EXPT_GAP = REPO_ROOT / "data/01_raw/matbench/expt_gap.csv"
MP_SAMPLE_ROWS = 3000
CHAMPION = Path("data/06_models/champion/expt_gap.pkl")
PLANT = Path("data/01_raw/plant/expt_gap")
# case -> (rows per batch, batches, goal in seconds)
UPSTREAM = ["ingest", "validate", "featurize", "split", "pretrain"]  # what the monitor stage reads
CASES = {"small": (1_000, 1, 20.0), "large": (50_000, 1, 60.0), "many": (40, 25, 30.0)}


def kedro(project: Path, *args: str) -> tuple[float, float, float, int, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS (MB) and exit code of one ``kedro`` call in
    ``project``, and its log tail. On a shared machine the CPU seconds move less with the load."""
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "KEDRO_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    env.pop("KEDRO_ENV", None)
    log = project / "kedro.log"
    start = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "kedro"), *args], cwd=project, env=env, stdout=out, stderr=out
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, code, log.read_text()[-4000:]


def prepare(project: Path, champion_key: str | None) -> None:
    """The scratch project with every upstream artefact of the monitor stage (built once, then reused)."""
    if not (project / "data/07_model_output/expt_gap/source_feature_table.parquet").exists():
        if project.exists():
            shutil.rmtree(project)
        (project / "src").mkdir(parents=True)  # kedro checks it exists; the package is installed
        shutil.copy(REPO_ROOT / "pyproject.toml", project)
        shutil.copy(REPO_ROOT / ".telemetry", project)
        raw = project / "data/01_raw/matbench"
        raw.mkdir(parents=True)
        shutil.copy(EXPT_GAP, raw)
        pd.read_csv(REPO_ROOT / "data/01_raw/matbench/mp_gap.csv").head(MP_SAMPLE_ROWS).to_csv(
            raw / "mp_gap_sample.csv", index=False
        )
        (project / PLANT).mkdir(parents=True)
        copy_configuration(project)
        for pipeline in UPSTREAM:
            print(f"building the upstream artefacts: kedro run --env smoke --pipeline {pipeline}", flush=True)
            *_, code, tail = kedro(project, "run", "--env", "smoke", "--pipeline", pipeline)
            if code != 0:
                raise SystemExit(f"kedro run --env smoke --pipeline {pipeline} failed in {project}:\n{tail}")
    copy_configuration(project)  # the checkout's catalog and parameters, also in a reused scratch project
    fit_benchmark_champion(project, champion_key)


def copy_configuration(project: Path) -> None:
    """The checkout's ``conf`` (without ``local``), the MP source pointed at the 3,000-row sample."""
    shutil.rmtree(project / "conf", ignore_errors=True)
    shutil.copytree(REPO_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf/local").mkdir()
    declarations_path = project / "conf/base/parameters_datasets.yml"
    declarations = yaml.safe_load(declarations_path.read_text())
    declarations["datasets"]["mp_gap"]["source"] = {"filepath": "data/01_raw/matbench/mp_gap_sample.csv"}
    declarations_path.write_text(yaml.safe_dump(declarations, sort_keys=False))


def fit_benchmark_champion(project: Path, key: str) -> None:
    """Fit ``key`` as the champion through the evaluate stage's ``fit_champion``, with this checkout's
    code and parameters (each call: a champion pickled earlier may predate either)."""
    from matshift.io.champion_dataset import ChampionChoiceDataset, ChampionModelDataset
    from matshift.pipelines.evaluate.nodes import fit_champion

    choice_path = project / CHAMPION.with_suffix(".json")
    base = yaml.safe_load((project / "conf/base/parameters_robust.yml").read_text())["robust"]
    smoke = yaml.safe_load((project / "conf/smoke/parameters_robust.yml").read_text())["robust"]
    declaration = yaml.safe_load((project / "conf/base/parameters_datasets.yml").read_text())["datasets"]
    # a one-candidate rule: the champion is chosen by this benchmark, not by the evaluate stage's metrics
    metrics = {"leave_cluster_out": {key: {"worst_group_mae": 0.0, "coverage_90": 0.9}}}
    rule = {"split": "leave_cluster_out", "minimise": "worst_group_mae", "coverage_range": [0, 1]}
    print(f"fitting the champion ({key}, smoke robust parameters)", flush=True)
    model, choice = fit_champion(
        metrics,
        pd.read_parquet(project / "data/03_primary/expt_gap/materials_table.parquet"),
        pd.read_parquet(project / "data/04_feature/expt_gap/composition_features.parquet"),
        declaration["expt_gap"],
        {**base, **smoke},
        {"champion": {**rule, "candidates": [key]}},
        source_feature_table=pd.read_parquet(
            project / "data/07_model_output/expt_gap/source_feature_table.parquet"
        ),
    )
    # the catalog's own datasets: the artefact is pinned by its sha256 as the evaluate stage pins it
    ChampionChoiceDataset(str(choice_path), str(project / CHAMPION)).save(choice)
    ChampionModelDataset(str(project / CHAMPION), registered_model="matshift-expt_gap").save(model)


def write_batches(folder: Path, rows: int, batches: int) -> None:
    for old in folder.iterdir():
        old.unlink()
    expt_gap = pd.read_csv(EXPT_GAP, dtype=str, keep_default_na=False)
    for number in range(batches):
        sample = expt_gap.sample(rows, replace=rows > len(expt_gap), random_state=number)
        # a row drawn again gets its gap + 0.0001 eV per repeat: identical rows would be quarantined
        repeat = sample.groupby(list(sample.columns), sort=False).cumcount().to_numpy()
        bumped = pd.to_numeric(sample["target"]) + 1e-4 * repeat
        sample["target"] = np.where(repeat > 0, bumped.round(4).astype(str), sample["target"])
        sample.rename(columns={"target": "target (eV)"}).to_csv(
            folder / f"batch_{number:02d}.csv", index=False
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/matshift_monitor_bench"))
    parser.add_argument("--cases", default="small,large,many", help=f"comma-separated, of {list(CASES)}")
    parser.add_argument(
        "--champion", default="catboost_uncertainty", help="robust-stage model key to score with"
    )
    args = parser.parse_args()
    project = args.workdir.resolve()
    prepare(project, args.champion)
    champion = json.loads((project / CHAMPION.with_suffix(".json")).read_text())["model"]
    results = []
    for case in args.cases.split(","):
        rows, batches, goal = CASES[case]
        write_batches(project / PLANT, rows, batches)
        seconds, cpu, rss, code, tail = kedro(project, "run", "--pipeline", "monitor")
        if code != 0:
            print(tail, file=sys.stderr)
        results.append((case, rows * batches, batches, seconds, cpu, rss, goal, code))
    print(f"champion: {champion}; command per case: kedro run --pipeline monitor (in {project})")
    print(f"{'case':<7}{'rows':>8}{'files':>7}{'seconds':>9}{'cpu s':>8}{'peak MB':>9}{'goal s':>8}  met")
    for case, total, batches, seconds, cpu, rss, goal, code in results:
        met = "yes" if code == 0 and seconds <= goal else ("FAILED" if code else "no")
        print(f"{case:<7}{total:>8}{batches:>7}{seconds:>9.1f}{cpu:>8.1f}{rss:>9.0f}{goal:>8.0f}  {met}")
    return max(code for *_, code in results)


if __name__ == "__main__":
    raise SystemExit(main())
