"""Declared remote source files: where each one is (cache, mirror, public URL), and fetching it.

A dataset whose declared ``source`` has a ``url`` (or a ``mirror_name``) is a *remote* file: not
committed, cached under ``data/01_raw/<dataset folder>/`` on first use. It resolves, in order, to

1. the cached file, if its sha256 matches the pinned one (a mismatch is an error, never skipped);
2. the file in ``MATSHIFT_DATA_MIRROR`` (a folder, e.g. ``../shared/datasets``, or a URL prefix) under
   its ``mirror_name`` (default: the last two parts of ``filepath``, e.g. ``mpea_borg2020/MPEA_dataset.csv``);
3. the public ``url``.

Copying and verifying is :class:`~matshift.io.source_dataset.SourceDataset`'s job (the catalog entry
``<dataset>.raw`` does the same on load); this module answers "is it here?" without the network
(the pipeline registry leaves unavailable case studies out of ``kedro run``) and fetches on request
(``python -m matshift.fetch``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from matshift.io.source_dataset import (
    MIRROR_ENV,
    SourceChecksumError,
    SourceDataset,
    SourceUnavailableError,
    _is_url,
    sha256_file,
)


@dataclass(frozen=True)
class RemoteFile:
    """One declared remote source file."""

    dataset: str
    filepath: Path
    sha256: str | None
    url: str | None
    mirror_name: str

    @classmethod
    def from_declaration(cls, dataset: str, declaration: dict[str, Any], project_path: Path) -> RemoteFile:
        source = declaration["source"]
        filepath = project_path / source["filepath"]
        mirror_name = source.get("mirror_name") or str(PurePosixPath(*Path(source["filepath"]).parts[-2:]))
        return cls(dataset, filepath, source.get("sha256"), source.get("url"), mirror_name)

    def source_dataset(self) -> SourceDataset:
        return SourceDataset(
            filepath=str(self.filepath), sha256=self.sha256, url=self.url, mirror_name=self.mirror_name
        )


@dataclass(frozen=True)
class FetchResult:
    dataset: str
    status: str  # "cached" | "fetched" | "skipped"
    detail: str


def is_remote(declaration: dict[str, Any]) -> bool:
    source = declaration.get("source") or {}
    return bool(source.get("url") or source.get("mirror_name"))


def declared_remote_files(declarations: dict[str, dict[str, Any]], project_path: Path) -> list[RemoteFile]:
    return [
        RemoteFile.from_declaration(dataset, declaration, project_path)
        for dataset, declaration in declarations.items()
        if is_remote(declaration)
    ]


def _checked(remote: RemoteFile, path: Path, where: str) -> None:
    actual = sha256_file(path)
    if remote.sha256 and actual != remote.sha256:
        raise SourceChecksumError(
            f"sha256 mismatch for {remote.dataset} source file {path} ({where}): "
            f"expected {remote.sha256}, got {actual}. Restore the original file or, if the source was "
            "deliberately updated, review it and update the pinned sha256 in parameters_datasets.yml."
        )


def mirror_path(remote: RemoteFile) -> Path | None:
    """The file in a folder mirror, if ``MATSHIFT_DATA_MIRROR`` is a folder that holds it."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror or _is_url(mirror):
        return None
    path = Path(mirror).expanduser() / remote.mirror_name
    return path if path.is_file() else None


def local_availability(remote: RemoteFile) -> str | None:
    """``"cached"`` or ``"mirror"`` where the file is on this machine (sha256 verified), else None."""
    if remote.filepath.is_file():
        _checked(remote, remote.filepath, "cached")
        return "cached"
    mirrored = mirror_path(remote)
    if mirrored is not None:
        _checked(remote, mirrored, f"mirror {MIRROR_ENV}")
        return "mirror"
    return None


def fetch(remote: RemoteFile) -> FetchResult:
    """Make the cached copy exist: from the cache, the mirror or the URL; ``skipped`` with the reason."""
    if remote.filepath.is_file():
        _checked(remote, remote.filepath, "cached")
        return FetchResult(remote.dataset, "cached", f"{remote.filepath} (sha256 verified)")
    try:
        remote.source_dataset().load()
    except SourceUnavailableError as error:
        return FetchResult(remote.dataset, "skipped", str(error))
    return FetchResult(remote.dataset, "fetched", f"{remote.filepath} (sha256 verified)")
