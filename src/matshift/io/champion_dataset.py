"""The champion model: saved as a local artefact (versioned by DVC), loaded from the MLflow model
registry by alias when the registry is reachable, else from that artefact.

The evaluate stage saves the artefact; ``MlflowTrackingHooks`` registers it as a new version of the
registered model ``matshift-<dataset>`` and points the alias ``champion`` at it. Loading records
where the model came from in ``model.loaded_from_`` (the monitoring summary reports it).
``MATSHIFT_CHAMPION_SOURCE=local`` skips the registry: use it to reproduce an earlier commit's
predictions exactly after ``git checkout`` + ``dvc checkout`` (the registry's alias may have moved).
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from matshift.tracking.mlflow_logging import DEFAULT_TRACKING_DB

logger = logging.getLogger(__name__)
CHAMPION_ALIAS = "champion"


def registered_model_name(dataset: str) -> str:
    return f"matshift-{dataset}"


class ChampionModelDataset(AbstractDataset[Any, Any]):
    def __init__(self, filepath: str, registered_model: str, alias: str = CHAMPION_ALIAS):
        self._filepath = Path(filepath)
        self._registered_model = registered_model
        self._alias = alias

    def _save(self, model: Any) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        partial = self._filepath.with_suffix(".partial")
        with partial.open("wb") as handle:  # written whole, then renamed: a crash leaves no half artefact
            pickle.dump(model, handle)
        partial.replace(self._filepath)

    def _load(self) -> Any:
        reason = self._registry_unavailable()
        if reason is None:
            try:
                return self._load_from_registry()
            except Exception as error:  # noqa: BLE001 - any registry failure: the artefact
                reason = f"{type(error).__name__}: {error}"
        if not self._filepath.exists():
            raise FileNotFoundError(
                f"no champion model: the MLflow registry gave none ({reason}) and the local artefact "
                f"{self._filepath} does not exist; run the evaluate stage first "
                "(kedro run --pipeline evaluate)"
            )
        logger.info("champion from the local artefact %s (registry not used: %s)", self._filepath, reason)
        with self._filepath.open("rb") as handle:
            model = pickle.load(handle)
        model.loaded_from_ = f"local artefact {self._filepath} (registry not used: {reason})"
        return model

    def _registry_unavailable(self) -> str | None:
        if os.environ.get("MATSHIFT_CHAMPION_SOURCE", "registry") == "local":
            return "MATSHIFT_CHAMPION_SOURCE=local"
        if os.environ.get("MATSHIFT_TRACKING", "on") == "off":
            return "MATSHIFT_TRACKING=off"
        if not os.environ.get("MLFLOW_TRACKING_URI") and not Path(DEFAULT_TRACKING_DB).exists():
            return f"no MLflow tracking store ({DEFAULT_TRACKING_DB} absent, MLFLOW_TRACKING_URI unset)"
        return None

    def _load_from_registry(self) -> Any:
        import mlflow
        from mlflow import MlflowClient

        from matshift.tracking.mlflow_logging import tracking_uri

        mlflow.set_tracking_uri(tracking_uri(Path.cwd()))
        version = MlflowClient().get_model_version_by_alias(self._registered_model, self._alias)
        uri = f"models:/{self._registered_model}@{self._alias}"
        model = mlflow.pyfunc.load_model(uri).unwrap_python_model().champion
        model.loaded_from_ = f"{uri} (version {version.version})"
        logger.info("champion loaded from the MLflow registry: %s", model.loaded_from_)
        return model

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "registered_model": self._registered_model,
            "alias": self._alias,
        }
