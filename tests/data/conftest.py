"""Small image and DICOM files built on the fly for the data-layer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PATIENT_NAME = "Doe^Janet"
PATIENT_ID = "MRN-4711-0815"
BIRTH_DATE = "19610203"


def write_png(path: Path, seed: int = 0, size: tuple[int, int] = (12, 10)) -> np.ndarray:
    """Write a random grayscale PNG and return its pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def write_truncated_png(path: Path) -> None:
    """A PNG cut in half: opens, but fails to decode."""
    write_png(path, seed=99, size=(64, 64))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    window: tuple[float, float] | None = (500.0, 1000.0),
    slope: float = 2.0,
    intercept: float = -100.0,
) -> None:
    """Write a 16-bit single-frame DICOM carrying patient identifiers."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = PATIENT_NAME, PATIENT_ID, BIRTH_DATE
    ds.Modality, ds.Manufacturer, ds.BodyPartExamined = "CR", "AcmeRay", "CHEST"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def dicom_pixels() -> np.ndarray:
    """Stored values 0..1000 (modality values -100..1900)."""
    return np.linspace(0, 1000, 48).round().astype(np.uint16).reshape(6, 8)


@pytest.fixture
def png():
    """The PNG writer, for tests: ``png(path, seed=0, size=(12, 10)) -> pixels``."""
    return write_png


@pytest.fixture
def truncated_png():
    """Writer of a PNG cut in half."""
    return write_truncated_png


@pytest.fixture
def dicom():
    """The DICOM writer (carries PatientName/PatientID/PatientBirthDate)."""
    return write_dicom
