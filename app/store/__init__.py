"""Qt-free SQLite project store (SQLAlchemy 2 + Alembic). The API is ``ProjectStore``; see repository.py."""

from .database import StoreError, StoreVersionError
from .edits import EditRecord
from .images import ImageReadError
from .repository import (
    AddImageResult,
    AddImagesReport,
    ImageInfo,
    ImageStatus,
    ImportImageResult,
    PredictionResult,
    ProjectStore,
)

__all__ = [
    "AddImageResult",
    "AddImagesReport",
    "EditRecord",
    "ImageInfo",
    "ImageReadError",
    "ImageStatus",
    "ImportImageResult",
    "PredictionResult",
    "ProjectStore",
    "StoreError",
    "StoreVersionError",
]
