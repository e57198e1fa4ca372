"""Render GX Data Docs (static HTML) for a serialized validation result, and a Kedro dataset that owns it.

GX 1.x builds Data Docs from its stores, not from a result object, so the renderer loads the JSON result
back into an ``ExpectationSuiteValidationResult``, puts it (and the suite rebuilt from the expectation
configurations inside it) into the in-memory stores of an ephemeral context whose only extra site writes
to the target folder, and calls ``build_data_docs`` for that site. No file context, no network: the
pages link CSS/JS from public CDNs, so a viewer without network sees unstyled but complete pages.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

SITE_NAME = "matshift"
RESULT_FILE = "validation_result.json"
# What build_data_docs writes into a site folder; cleared first so the index shows only this result.
_SITE_ENTRIES = ("index.html", "validations", "expectations", "static", RESULT_FILE)


def render_data_docs(validation_result_json: Mapping[str, Any], target_dir: str | Path) -> Path:
    """Write a Data Docs site for one validation result into ``target_dir``; returns its ``index.html``."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    target = Path(target_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    for entry in _SITE_ENTRIES:
        path = target / entry
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()

    # GX gets a copy so that deserialising can never modify the caller's (catalog's) dict.
    result = expectationSuiteValidationResultSchema.load(copy.deepcopy(dict(validation_result_json)))
    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(
        SITE_NAME,
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(target)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    # The suite page: rebuild the suite from the configurations the result carries (batch_id is a
    # runtime kwarg, not part of the suite).
    expectations = []
    for item in validation_result_json["results"]:
        config = copy.deepcopy(item["expectation_config"])
        config["kwargs"].pop("batch_id", None)
        config.pop("id", None)
        expectations.append(config)
    context.suites.add(gx.ExpectationSuite(name=result.suite_name, expectations=expectations))

    run_id = result.meta.get("run_id")
    if isinstance(run_id, Mapping):
        run_id = RunIdentifier(**run_id)
    batch = (result.meta.get("active_batch_definition") or {}).get("data_asset_name") or result.suite_name
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
        run_id=run_id or RunIdentifier(run_name=result.suite_name),
        batch_identifier=batch,
    )
    context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=[SITE_NAME])
    index = target / "index.html"
    if not index.exists():
        raise RuntimeError(f"GX did not write Data Docs to {target}")
    return index


class GXDataDocsDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Kedro dataset: ``save`` renders Data Docs for a GX result JSON in ``path``; ``load`` returns the JSON.

    ``path`` is a folder (e.g. ``data/08_reporting/gx_data_docs/expt_gap``); it receives ``index.html``,
    the site's pages and ``validation_result.json``. Nodes stay pure: they return the result JSON and the
    catalog owns the HTML I/O.
    """

    def __init__(self, path: str):
        self._path = Path(path)

    def load(self) -> dict[str, Any]:
        return json.loads((self._path / RESULT_FILE).read_text(encoding="utf-8"))

    def save(self, data: dict[str, Any]) -> None:
        render_data_docs(data, self._path)
        # Written after the site (which clears the folder) so load() returns exactly what was rendered.
        (self._path / RESULT_FILE).write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")

    def _exists(self) -> bool:
        return (self._path / RESULT_FILE).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "index": str(self._path / "index.html")}
