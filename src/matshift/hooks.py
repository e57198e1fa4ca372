"""Kedro hooks: register declared raw sources in the catalog, and track every run in MLflow."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from matshift.declarations import remember_environment

logger = logging.getLogger(__name__)


class DatasetDeclarationHooks:
    """Each declared dataset's source becomes the catalog entry ``<dataset>.raw``.

    The declaration is the one place a source is described (path, URL, sha256), so the catalog
    entry is derived from it rather than written a second time in catalog.yml.
    """

    def __init__(self) -> None:
        self._project_path = Path.cwd()

    @hook_impl
    def after_context_created(self, context) -> None:
        self._project_path = Path(context.project_path)
        remember_environment(context.env, str(self._project_path / "conf"))

    @hook_impl
    def after_catalog_created(self, catalog, parameters: dict[str, Any]) -> None:
        from matshift.io import SourceDataset

        # Kedro passes the feed dict: the whole parameter tree sits under "parameters".
        declarations = parameters.get("parameters", {}).get("datasets") or {}
        for dataset, declaration in declarations.items():
            name = f"{dataset}.raw"
            if name not in catalog:
                source = {k: v for k, v in declaration["source"].items() if k != "provenance"}
                source["filepath"] = str(self._project_path / source["filepath"])
                catalog[name] = SourceDataset(**source)
            if declaration.get("monitor") and f"{dataset}.plant_batches" not in catalog:
                catalog[f"{dataset}.plant_batches"] = self._plant_batches(dataset, declaration)

    def _plant_batches(self, dataset: str, declaration: dict[str, Any]):
        """``data/01_raw/plant/<dataset>/``: the declared formula column (or every element column of an
        element-fraction composition) required, the target optional."""
        from matshift.io import PlantBatchesDataset

        if declaration.get("case_study"):  # the raw file's layout: its domain module checks the columns
            given, target = [], declaration["target"]["column"]
        else:
            columns = declaration["columns"]
            composition = declaration.get("composition")
            given = list(composition["columns"].values()) if composition else [columns["formula"]]
            target = columns["target"]
        return PlantBatchesDataset(
            folder=str(self._project_path / "data" / "01_raw" / "plant" / dataset),
            required=dict.fromkeys(given),
            optional={target: declaration["target"]["unit"]},
            # the catalog's `{dataset}.plant_predictions_manifest`: files scored before keep their names
            manifest=str(
                self._project_path
                / "data"
                / "07_model_output"
                / "plant_predictions"
                / f"{dataset}.manifest.json"
            ),
        )


class MlflowTrackingHooks:
    """After a run that evaluated models, log it to MLflow (nodes stay free of tracking calls)."""

    REPORTS = ("robustness_report_html", "robustness_report_md")

    @staticmethod
    def _report_files(catalog) -> list[Path]:
        """The project-level reports (the robustness report) a dataset's run also carries."""
        return [
            Path(catalog.get(name)._describe()["filepath"])
            for name in MlflowTrackingHooks.REPORTS
            if name in catalog
        ]

    def __init__(self) -> None:
        self._started: datetime | None = None
        self._run_params: dict[str, Any] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._started = datetime.now(UTC)
        self._run_params = run_params

    @hook_impl
    def after_node_run(self, node, outputs: dict[str, Any]) -> None:
        """Plant batches are logged as soon as they are scored, even if the run then fails on a bad file."""
        names = [name for name in outputs if name.endswith(".monitoring_summary")]
        if not names or os.environ.get("MATSHIFT_TRACKING", "on") == "off":
            return
        import mlflow

        from matshift.tracking.mlflow_logging import git_commit, log_monitoring_runs, tracking_uri

        project_path = Path(self._run_params.get("project_path") or Path.cwd())
        mlflow.set_tracking_uri(tracking_uri(project_path))
        tags = {"git_commit": git_commit(project_path)}
        for name in names:
            dataset = name.removesuffix(".monitoring_summary")
            reports = outputs.get(f"{dataset}.monitoring_reports") or {}
            run_ids = log_monitoring_runs(dataset, outputs[name], reports, tags)
            logger.info(
                "MLflow: %s plant batches logged as %d runs (matshift/%s/monitoring)",
                dataset,
                len(run_ids),
                dataset,
            )

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        evaluated = sorted(
            name.removesuffix(".metrics")
            for name in pipeline.all_outputs()
            if name.endswith(".metrics") and "." in name
        )
        if os.environ.get("MATSHIFT_TRACKING", "on") == "off":
            return
        if not evaluated:  # the promote step: the artefact is written, now the registry follows it
            project_path = Path(run_params.get("project_path") or Path.cwd())
            for name in sorted(pipeline.all_outputs()):
                if name.endswith(".champion_model"):
                    tags = {"git_commit": _git_commit(project_path), "promotion": "promote pipeline"}
                    self._register_champion(catalog, name.removesuffix(".champion_model"), tags, project_path)
            return
        import mlflow

        from matshift.tracking.mlflow_logging import git_commit, log_dataset_run, tracking_uri

        project_path = Path(run_params.get("project_path") or Path.cwd())
        mlflow.set_tracking_uri(tracking_uri(project_path))
        parameters = catalog.load("parameters")
        started = (self._started or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
        tags = {
            "git_commit": git_commit(project_path),
            "kedro_session_id": str(run_params.get("session_id")),
            "kedro_env": str(run_params.get("env")),
            "kedro_pipelines": ",".join(run_params.get("pipeline_names") or ["__default__"]),
        }
        for dataset in evaluated:
            # the pretrained source models of a transfer dataset, whichever stage produced them
            transfer = bool(parameters["datasets"][dataset].get("transfer")) and catalog.exists(
                f"{dataset}.source_models"
            )
            reporting = Path(catalog.get(f"{dataset}.metrics")._describe()["filepath"]).parent
            case_study = bool(parameters["datasets"][dataset].get("case_study"))
            case_study_models = {
                **parameters.get("case_studies", {}).get("models", {}),
                **parameters.get("case_studies", {}).get("physics_models", {}),
                **parameters.get("case_studies", {}).get("robust", {}).get("model_params", {}),
            }
            run_id = log_dataset_run(
                dataset=dataset,
                run_name=f"kedro run {started}",
                run_tags=tags,
                declaration=parameters["datasets"][dataset],
                split_params=parameters["case_studies"]["split"] if case_study else parameters["split"],
                model_params={
                    **(case_study_models if case_study else parameters["train"]["models"]),
                    **(parameters["transfer"]["strategy_params"] if transfer else {}),
                },
                metrics=catalog.load(f"{dataset}.metrics"),
                # a case study's fold models stay in data/06_models/<dataset>/ (dozens of networks)
                models={} if case_study else catalog.load(f"{dataset}.models"),
                features=catalog.load(f"{dataset}.features"),
                materials_table=catalog.load(f"{dataset}.materials_table"),
                artifact_dirs=[reporting],
                artifact_files=self._report_files(catalog)
                if parameters["datasets"][dataset].get("robust")
                else [],
                source_models=catalog.load(f"{dataset}.source_models") if transfer else None,
                source_params={key: parameters["transfer"][key] for key in ("source_catboost", "source_mlp")}
                if transfer
                else None,
            )
            logger.info("MLflow: %s logged as run %s (experiment matshift/%s)", dataset, run_id, dataset)
            if f"{dataset}.champion_model" in pipeline.all_outputs():
                self._register_champion(catalog, dataset, tags, project_path)

    @staticmethod
    def _register_champion(catalog, dataset: str, tags: dict[str, str], project_path: Path) -> None:
        """Register the artefact's bytes in the project's own registry and pin the version in its record."""
        from matshift.io.champion_dataset import (
            file_sha256,
            project_registry_uri,
            record_registration,
            registered_model_name,
        )
        from matshift.tracking.mlflow_logging import register_champion

        described = catalog.get(f"{dataset}.champion_model")._describe()
        path, record = Path(described["filepath"]), Path(described["record_filepath"])
        choice = catalog.load(f"{dataset}.champion")
        digest = file_sha256(path)
        uri = project_registry_uri(project_path)
        try:
            version = register_champion(dataset, path, choice, tags, registry_uri=uri)
        except Exception as error:
            raise RuntimeError(
                f"champion artefact {path} (sha256 {digest}) is written but registering it in {uri} failed: "
                f"{type(error).__name__}: {error}. Monitoring loads the hash-checked artefact meanwhile; "
                "re-run the same command to register it"
            ) from error
        record_registration(
            record, digest, {"model": registered_model_name(dataset), "version": version, "uri": uri}
        )
        logger.info(
            "MLflow: champion %s registered as matshift-%s version %s, alias champion",
            choice["model"],
            dataset,
            version,
        )


def _git_commit(project_path: Path) -> str:
    from matshift.tracking.mlflow_logging import git_commit

    return git_commit(project_path)
