"""The champion model: a local artefact (versioned by DVC) pinned by its sha256, and the same bytes
registered in the project's own MLflow model registry.

Trust model: a pickle runs code when it is loaded, so the champion is only ever unpickled from bytes
the project wrote and hashed. ``data/06_models/champion/<dataset>.json`` (the champion's choice record)
carries the pin ``artefact: {file, sha256, registry: {model, version, uri} | null}``; the pin is
rewritten whenever either file is saved, and the registry version is added once the same bytes are
registered (``record_registration``). Loading:

- the registry is the project's sqlite store (``<project>/mlflow.db``), never another server that
  ``MLFLOW_TRACKING_URI`` may name; the pinned *version* is downloaded (not the alias, which a
  promotion moves) and its bytes must hash to the pin before they are unpickled;
- a reachable registry that fails (missing version, unreadable store, download error) or any hash
  mismatch is a :class:`ChampionLoadError`, never a silent fallback;
- the local artefact (hash checked the same way) is used only when no registry is configured or
  available (``MATSHIFT_TRACKING=off``, no ``mlflow.db``, ``MATSHIFT_CHAMPION_SOURCE=local``, or this
  artefact was never registered); ``model.loaded_from_`` says which and why (``summary.json``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from matshift.tracking.mlflow_logging import DEFAULT_TRACKING_DB

logger = logging.getLogger(__name__)
CHAMPION_ALIAS = "champion"
PIN_KEY = "artefact"


class ChampionLoadError(RuntimeError):
    """The champion could not be loaded as pinned: stop the run rather than score with something else."""


def registered_model_name(dataset: str) -> str:
    return f"matshift-{dataset}"


def project_registry_uri(project_path: Path) -> str:
    """The project's own registry: the sqlite store beside the code, whatever MLFLOW_TRACKING_URI says."""
    return f"sqlite:///{(project_path / DEFAULT_TRACKING_DB).resolve()}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, default=str))
    partial.replace(path)  # written whole, then renamed


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def write_pin(model_path: Path, record_path: Path) -> dict[str, Any] | None:
    """Pin the artefact's current bytes in the record; a registry version is kept only for the same bytes."""
    model_path, record_path = Path(model_path), Path(record_path)
    if not model_path.exists() or not record_path.exists():
        return None
    record = _read_json(record_path)
    digest = file_sha256(model_path)
    previous = record.get(PIN_KEY) or {}
    registry = previous.get("registry") if previous.get("sha256") == digest else None
    record[PIN_KEY] = {"file": model_path.name, "sha256": digest, "registry": registry}
    _write_json(record_path, record)
    return record[PIN_KEY]


def record_registration(record_path: Path, sha256: str, registry: dict[str, str]) -> None:
    """Add the registry version to the pin, only if the pinned bytes are the ones that were registered."""
    record = _read_json(Path(record_path))
    pin = record.get(PIN_KEY) or {}
    if pin.get("sha256") != sha256:
        raise ChampionLoadError(
            f"{record_path}: registered bytes sha256 {sha256} are not the pinned artefact "
            f"(sha256 {pin.get('sha256')}); the artefact changed during registration"
        )
    record[PIN_KEY] = {**pin, "registry": registry}
    _write_json(Path(record_path), record)


class ChampionChoiceDataset(AbstractDataset[dict, dict]):
    """``<dataset>.json``: why the champion won, plus the pin of ``model_filepath`` (kept in step on save)."""

    def __init__(self, filepath: str, model_filepath: str):
        self._filepath = Path(filepath)
        self._model_filepath = Path(model_filepath)

    def _save(self, choice: dict) -> None:
        previous = _read_json(self._filepath).get(PIN_KEY)
        record = {k: v for k, v in choice.items() if k != PIN_KEY}
        _write_json(self._filepath, {**record, **({PIN_KEY: previous} if previous else {})})
        write_pin(self._model_filepath, self._filepath)

    def _load(self) -> dict:
        if not self._filepath.exists():
            raise FileNotFoundError(f"{self._filepath}: no champion record; run the evaluate stage first")
        return _read_json(self._filepath)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "model_filepath": str(self._model_filepath)}


class ChampionModelDataset(AbstractDataset[Any, Any]):
    def __init__(
        self,
        filepath: str,
        registered_model: str,
        alias: str = CHAMPION_ALIAS,
        record_filepath: str | None = None,
    ):
        self._filepath = Path(filepath)
        self._record = Path(record_filepath) if record_filepath else self._filepath.with_suffix(".json")
        self._registered_model = registered_model
        self._alias = alias

    def _save(self, model: Any) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        partial = self._filepath.with_suffix(".partial")
        with partial.open("wb") as handle:  # written whole, then renamed: a crash leaves no half artefact
            pickle.dump(model, handle)
        partial.replace(self._filepath)
        write_pin(self._filepath, self._record)

    def _load(self) -> Any:
        if not self._filepath.exists():
            raise FileNotFoundError(
                f"no champion model: the local artefact {self._filepath} does not exist; run the evaluate "
                "stage first (kedro run --pipeline evaluate)"
            )
        pin = _read_json(self._record).get(PIN_KEY)
        if not pin or not pin.get("sha256"):
            raise ChampionLoadError(
                f"{self._record}: no sha256 pin for {self._filepath}, so it cannot be trusted to unpickle; "
                "re-run the evaluate stage (kedro run --pipeline evaluate) to write and pin it"
            )
        registry = pin.get("registry")
        reason = self._registry_unavailable(registry)
        if reason is None:
            return self._load_from_registry(pin)
        model = self._unpickle_checked(self._filepath, pin["sha256"], f"local artefact {self._filepath}")
        model.loaded_from_ = (
            f"local artefact {self._filepath} (sha256 {pin['sha256'][:12]}; registry not used: {reason})"
        )
        logger.info("champion: %s", model.loaded_from_)
        return model

    def _registry_unavailable(self, registry: dict[str, str] | None) -> str | None:
        if os.environ.get("MATSHIFT_CHAMPION_SOURCE", "registry") == "local":
            return "MATSHIFT_CHAMPION_SOURCE=local"
        if os.environ.get("MATSHIFT_TRACKING", "on") == "off":
            return "MATSHIFT_TRACKING=off"
        if not (Path.cwd() / DEFAULT_TRACKING_DB).exists():
            return f"no project registry ({DEFAULT_TRACKING_DB} absent)"
        if not registry:
            # e.g. `kedro run` scores batches before its after-run hook registers the new champion
            return (
                "this artefact is not registered (yet: registration follows the run that wrote it; or "
                "tracking was off, or registration failed)"
            )
        return None

    def _load_from_registry(self, pin: dict[str, Any]) -> Any:
        import mlflow
        import mlflow.artifacts
        from mlflow import MlflowClient

        uri = project_registry_uri(Path.cwd())
        name, version = self._registered_model, str(pin["registry"]["version"])
        where = f"registry {uri} model {name} version {version}"
        # `models:/` URIs resolve against the global tracking URI whatever is passed: pin it for the load
        # (the downloaded bytes are hash-checked either way)
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(uri)
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.get_model_version(name, version)
            with tempfile.TemporaryDirectory() as folder:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{name}/{version}",
                    dst_path=folder,
                    tracking_uri=uri,
                    registry_uri=uri,
                )
                files = sorted((Path(local) / "artifacts").glob("*"))
                if len(files) != 1:
                    raise ChampionLoadError(f"{where}: expected one champion file, found {len(files)}")
                model = self._unpickle_checked(files[0], pin["sha256"], where)
            alias = self._alias_version(client, name)
        except ChampionLoadError:
            raise
        except Exception as error:  # a reachable registry that fails must stop the run, not fall back
            raise ChampionLoadError(
                f"champion {name} version {version} could not be loaded from the project registry {uri}: "
                f"{type(error).__name__}: {error}. Fix the registry, or run with "
                f"MATSHIFT_CHAMPION_SOURCE=local to use the pinned artefact {self._filepath}"
            ) from error
        finally:
            mlflow.set_tracking_uri(previous)
        moved = "" if alias in (None, version) else f"; alias {self._alias!r} is at version {alias}"
        model.loaded_from_ = f"models:/{name}/{version} from {uri} (sha256 {pin['sha256'][:12]}{moved})"
        logger.info("champion loaded from the project registry: %s", model.loaded_from_)
        return model

    def _alias_version(self, client: Any, name: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(client.get_model_version_by_alias(name, self._alias).version)
        except MlflowException:
            return None

    @staticmethod
    def _unpickle_checked(path: Path, expected: str, where: str) -> Any:
        """Hash the bytes first; unpickle only what the project wrote and pinned."""
        data = Path(path).read_bytes()
        found = hashlib.sha256(data).hexdigest()
        if found != expected:
            raise ChampionLoadError(
                f"champion from {where}: sha256 mismatch, expected {expected}, found {found}; refusing to "
                "unpickle it (restore the artefact with `dvc checkout`, or re-run the evaluate stage)"
            )
        return pickle.loads(data)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "record_filepath": str(self._record),
            "registered_model": self._registered_model,
            "alias": self._alias,
        }
