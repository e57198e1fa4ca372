"""Kedro datasets for raw inputs: verified source files and live Materials Project data."""

from matshift.io.materials_project_dataset import MaterialsProjectDataset, MaterialsProjectKeyError
from matshift.io.plant_batches import PlantBatchesDataset
from matshift.io.source_dataset import (
    MIRROR_ENV,
    SourceChecksumError,
    SourceDataset,
    SourceError,
    SourceFormatError,
    SourceUnavailableError,
    sha256_file,
)

__all__ = [
    "MIRROR_ENV",
    "MaterialsProjectDataset",
    "MaterialsProjectKeyError",
    "PlantBatchesDataset",
    "SourceChecksumError",
    "SourceDataset",
    "SourceError",
    "SourceFormatError",
    "SourceUnavailableError",
    "sha256_file",
]
