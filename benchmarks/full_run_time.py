"""Time a full rebuild stage by stage: ``kedro run --pipeline <stage>`` for every stage, in order.

Prints one row per stage (seconds) and the total; the goals (full run within 15 minutes with
pretraining, 20 with the robust models, on the 2-core CI machine) are read off this table, not
asserted in a test. Run from the project root inside the venv, after the data exist or from scratch:

    python benchmarks/full_run_time.py [--env base] [--stages ingest validate ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "validate", "featurize", "split", "train", "pretrain", "finetune", "robust", "evaluate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="Kedro configuration environment")
    parser.add_argument("--stages", nargs="+", default=list(STAGES))
    args = parser.parse_args()
    kedro = Path(sys.executable).parent / "kedro"
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    rows, total = [], 0.0
    for stage in args.stages:
        command = [str(kedro), "run", "--pipeline", stage, *(["--env", args.env] if args.env else [])]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            print(f"stage {stage} failed (exit {result.returncode})", file=sys.stderr)
            return result.returncode
        rows.append((stage, seconds))
        total += seconds
    print(f"{'stage':<12}{'seconds':>10}")
    for stage, seconds in rows:
        print(f"{stage:<12}{seconds:>10.1f}")
    print(f"{'total':<12}{total:>10.1f}")
    print(f"total_minutes: {total / 60:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
