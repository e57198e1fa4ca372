"""The README's results tables, written from ``data/08_reporting/metrics.json``.

    python -m matshift.reporting.results_table            # rewrite the README's results section
    python -m matshift.reporting.results_table --print    # only print it

One table per dataset: a row per model, the fold-averaged MAE of every split with its ratio to
``erm`` (the experiment-only baseline), and on ``matbench_cv`` the MAE on test rows whose composition
the source domain contains / does not contain. Every model is listed, winners and losers alike.
A table already in the README whose dataset ``metrics.json`` does not hold is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

START_MARKER = "<!-- results:start (written by python -m matshift.reporting.results_table) -->"
END_MARKER = "<!-- results:end -->"
BASELINE = "erm"


def _number(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def dataset_table(splits: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown table of one dataset's ``{split: {model: {metric: value}}}``."""
    split_names = list(splits)
    models = list(dict.fromkeys(model for per_model in splits.values() for model in per_model))
    first = split_names[0]

    def order(model: str) -> float:
        return splits[first].get(model, {}).get("mae", math.inf)

    show_source = any("mae_unseen_in_source" in v for v in splits[first].values())
    header = ["model", *(f"{split} MAE (× erm)" for split in split_names)]
    if show_source:
        header += [f"{first}: MAE seen in source", f"{first}: MAE unseen in source"]
    header += [f"{split} worst-group MAE" for split in split_names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in sorted(models, key=order):
        cells = [f"`{model}`"]
        for split in split_names:
            values = splits[split].get(model)
            if values is None:
                cells.append("–")
                continue
            baseline = splits[split].get(BASELINE, {}).get("mae")
            ratio = f" ({values['mae'] / baseline:.2f})" if baseline else ""
            cells.append(_number(values["mae"]) + ratio)
        if show_source:
            values = splits[first].get(model, {})
            cells += [_number(values.get("mae_seen_in_source")), _number(values.get("mae_unseen_in_source"))]
        cells += [_number(splits[split].get(model, {}).get("worst_group_mae")) for split in split_names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_markdown(metrics: dict[str, Any]) -> str:
    parts = []
    for dataset, splits in metrics.items():
        parts += [f"#### {dataset}", "", dataset_table(splits), ""]
    return "\n".join(parts).rstrip() + "\n"


def dataset_blocks(section: str) -> dict[str, str]:
    """``{dataset: its "#### dataset" block}`` of a results section (text before the first heading is
    not a table and is dropped)."""
    blocks: dict[str, str] = {}
    for part in re.split(r"(?m)^(?=#### )", section):
        if part.startswith("#### "):
            name = part.splitlines()[0].removeprefix("#### ").strip()
            blocks[name] = part.rstrip() + "\n"
    return blocks


def current_section(readme: str) -> str:
    """The text between the results markers ("" when there are none)."""
    if START_MARKER not in readme or END_MARKER not in readme:
        return ""
    return readme.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]


def merged_results(previous_section: str, metrics: dict[str, Any]) -> tuple[str, list[str]]:
    """The new section and the datasets kept as they were: a table whose dataset ``metrics.json`` does
    not hold (a case study whose file is not here, a dataset not run yet) is kept, never dropped."""
    kept = {name: block for name, block in dataset_blocks(previous_section).items() if name not in metrics}
    fresh = dataset_blocks(results_markdown(metrics)) if metrics else {}
    order = list(dict.fromkeys([*dataset_blocks(previous_section), *fresh]))
    parts = [fresh.get(name) or kept[name] for name in order]
    return "\n".join(parts), list(kept)


def replace_section(readme: str, section: str) -> str:
    """The README with the text between the results markers replaced by ``section``."""
    if START_MARKER not in readme or END_MARKER not in readme:
        raise ValueError(f"README has no results section: add the lines\n{START_MARKER}\n{END_MARKER}")
    before, rest = readme.split(START_MARKER, 1)
    _, after = rest.split(END_MARKER, 1)
    return f"{before}{START_MARKER}\n{section}{END_MARKER}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=Path, default=Path("data/08_reporting/metrics.json"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--print", action="store_true", help="print the tables, leave the README alone")
    args = parser.parse_args(argv)
    if not args.metrics.exists():
        parser.error(f"{args.metrics} not found: run `kedro run` (or `make run`) first")
    readme = args.readme.read_text() if args.readme.exists() else ""
    section, kept = merged_results(current_section(readme), json.loads(args.metrics.read_text()))
    if args.print:
        print(section)
    else:
        args.readme.write_text(replace_section(readme, section))
        print(f"results tables written to {args.readme}")
    if kept:
        print(f"kept as they were (not in {args.metrics}): {', '.join(kept)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
