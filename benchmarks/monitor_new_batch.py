"""Time what a plant engineer waits for: one new 1,000-row batch, then ``dvc repro``.

Writes ``data/01_raw/plant/expt_gap/benchmark_batch.csv`` (1,000 formulas with measured gaps drawn
from the embedded data), runs ``dvc repro`` and prints its wall time and which stages ran (only
``monitor`` should), then removes the batch and runs ``dvc repro`` again so the project is as before.
Needs an up-to-date ``dvc.lock`` (a finished ``dvc repro``), run inside the venv:

    python benchmarks/monitor_new_batch.py [--rows 1000] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = REPO_ROOT / "data/01_raw/plant/expt_gap/benchmark_batch.csv"


def repro() -> tuple[float, list[str], int]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    start = time.perf_counter()
    result = subprocess.run(["dvc", "repro"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    ran = re.findall(r"Running stage '([^']+)'", result.stdout + result.stderr)
    if result.returncode != 0:
        print(result.stdout[-2000:] + result.stderr[-2000:], file=sys.stderr)
    return seconds, ran, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="leave the batch (and its outputs) in place")
    args = parser.parse_args()
    expt_gap = pd.read_csv(REPO_ROOT / "data/01_raw/matbench/expt_gap.csv", dtype=str, keep_default_na=False)
    batch = expt_gap.sample(args.rows, random_state=1).rename(columns={"target": "target (eV)"})
    batch.to_csv(BATCH, index=False)
    rows = [("new batch", *repro())]
    if not args.keep:
        BATCH.unlink()
        rows.append(("batch removed", *repro()))
    print(f"{'step':<16}{'seconds':>9}  exit  stages run")
    for step, seconds, ran, code in rows:
        print(f"{step:<16}{seconds:>9.1f}  {code:>4}  {', '.join(ran) or '-'}")
    print(f"repro_seconds_new_batch: {rows[0][1]:.1f}")
    return max(code for *_, code in rows)


if __name__ == "__main__":
    raise SystemExit(main())
