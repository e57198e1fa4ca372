"""Which dataset's last monitor run proposed a batch: ``make promote BATCH=<batch>`` promotes in that
dataset's namespace only (every monitored dataset has its own champion and proposal).

``python -m matshift.monitoring.proposals <batch>`` prints the dataset, or exits 2 saying why not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MONITORING_DIR = Path("data/08_reporting/monitoring")


def dataset_proposing(batch: str, monitoring_dir: Path = MONITORING_DIR) -> str:
    """The one dataset whose ``proposal.json`` names ``batch``; ``LookupError`` naming the proposals
    otherwise (none, or several datasets with a batch of that name)."""
    proposals = {
        path.parent.name: json.loads(path.read_text()).get("batch")
        for path in sorted(Path(monitoring_dir).glob("*/proposal.json"))
    }
    matching = [dataset for dataset, proposed in proposals.items() if proposed == batch]
    if len(matching) == 1:
        return matching[0]
    shown = {dataset: proposed for dataset, proposed in proposals.items()} or "no proposal.json yet"
    if not matching:
        raise LookupError(
            f"no monitor run proposed batch {batch!r} (proposals in {monitoring_dir}: {shown}); "
            "run `dvc repro monitor` (or `kedro run --pipeline monitor`) first"
        )
    raise LookupError(
        f"batch {batch!r} is proposed for several datasets {matching}: name one, "
        f"`make promote BATCH={batch} DATASET=<dataset>`"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m matshift.monitoring.proposals <batch>", file=sys.stderr)
        return 2
    try:
        print(dataset_proposing(argv[0]))
    except LookupError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
