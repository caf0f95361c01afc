"""Domains and their loaders: image folders, CSV manifests, DICOM, .npz, tables."""

from medtransfer.data.acquisition import CORRUPTIONS, SEVERITIES, shift_images
from medtransfer.data.classes import harmonize_classes
from medtransfer.data.domain import Domain
from medtransfer.data.folders import SkippedFilesWarning, load_image_folder
from medtransfer.data.images import read_image
from medtransfer.data.loaders import load_domain
from medtransfer.data.manifest import load_manifest
from medtransfer.data.npz import load_npz
from medtransfer.data.sampling import choose_labelled
from medtransfer.data.tables import load_table

__all__ = [
    "CORRUPTIONS",
    "SEVERITIES",
    "Domain",
    "SkippedFilesWarning",
    "choose_labelled",
    "harmonize_classes",
    "load_domain",
    "load_image_folder",
    "load_manifest",
    "load_npz",
    "load_table",
    "read_image",
    "shift_images",
]
