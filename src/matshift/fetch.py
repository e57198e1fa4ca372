"""Fetch every declared remote dataset (``python -m matshift.fetch``), or say why it was skipped.

Run from the project root. For each dataset whose source declares a ``url`` or ``mirror_name``, prints
``cached``, ``fetched`` or ``skipped`` with the reason. Skipping is not an error (``kedro run`` then
runs without that case study); a sha256 mismatch is (exit status 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from matshift.io.remote_files import declared_remote_files, fetch
from matshift.io.source_dataset import SourceChecksumError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="Kedro configuration environment (default: local)")
    args = parser.parse_args(argv)

    from kedro.framework.startup import bootstrap_project

    from matshift.declarations import load_declarations

    project_path = Path.cwd()
    bootstrap_project(project_path)
    remotes = declared_remote_files(load_declarations(env=args.env), project_path)
    failed = False
    for remote in remotes:
        try:
            result = fetch(remote)
        except SourceChecksumError as error:
            print(f"{remote.dataset}: error: {error}")
            failed = True
            continue
        detail = result.detail.replace("\n", "\n    ")
        print(f"{result.dataset}: {result.status}: {detail}")
    if not remotes:
        print("no remote datasets declared")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
