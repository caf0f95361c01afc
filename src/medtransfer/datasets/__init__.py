"""Real medical data sets bundled with medtransfer (see files/README.md for their licences)."""

from medtransfer.datasets.bundled import files_path
from medtransfer.datasets.heart import heart_disease
from medtransfer.datasets.pneumonia import pneumonia
from medtransfer.datasets.warfarin import warfarin

__all__ = ["files_path", "heart_disease", "pneumonia", "warfarin"]
