"""Read one image file (PNG, JPEG, BMP, TIFF, DICOM) into a uint8 array.

DICOM files carry patient identifiers (name, id, birth date...). This module reads only the
pixel data, the tags needed to display it and a short list of non-identifying acquisition
tags (:data:`SAFE_DICOM_TAGS`); no other element is ever decoded, logged or returned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from medtransfer.errors import DataError

DICOM_SUFFIXES = (".dcm", ".dicom")
SAFE_DICOM_TAGS = {
    "Modality": "modality",
    "Manufacturer": "manufacturer",
    "ManufacturerModelName": "model",
    "BodyPartExamined": "body_part",
    "ViewPosition": "view_position",
}
_PIL_FLOAT_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def is_dicom(path: Path) -> bool:
    """True for a ``.dcm``/``.dicom`` file or any file with the DICOM ``DICM`` preamble."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(132)[128:] == b"DICM"
    except OSError:
        return False


MIN_SIDE = 2  # a 1-pixel side carries no picture for a backbone


def read_image(path: Path) -> np.ndarray:
    """Read an image file into a uint8 array of shape (H, W) or (H, W, 3).

    Parameters
    ----------
    path : Path
        A PNG, JPEG, BMP, TIFF (anything Pillow reads) or DICOM file; DICOM is recognised by
        its suffix or its ``DICM`` preamble, so extension-less DICOM files work.

    Returns
    -------
    ndarray of uint8
        Grayscale as (H, W), colour as (H, W, 3). DICOM pixels get their rescale
        slope/intercept, then the stored window (or min-max) mapped to 0-255; MONOCHROME1
        images are inverted so that high values are bright.

    Raises
    ------
    DataError
        If the file is missing, truncated, corrupt or not an image.
    """
    return read_image_and_tags(path)[0]


def read_image_and_tags(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    """Read an image and its non-identifying acquisition tags (empty for non-DICOM files)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file; check the path")
    pixels, tags = _read_dicom(path) if is_dicom(path) else (_read_pil(path), {})
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise DataError(
            f"{path}: the image is {pixels.shape[1]}x{pixels.shape[0]} pixels; expected at least "
            f"{MIN_SIDE}x{MIN_SIDE} (a 1-pixel side carries no picture); remove it or re-export it"
        )
    return pixels, tags


def _read_pil(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            return _pil_to_uint8(image)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise DataError(
            f"{path}: not a readable image ({exc}); remove it or convert it to PNG"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(
            f"{path}: corrupt or truncated image ({exc}); remove it or re-export it"
        ) from None


def _pil_to_uint8(image: Image.Image) -> np.ndarray:
    if image.mode == "L":
        return np.asarray(image, dtype=np.uint8).copy()
    if image.mode in _PIL_FLOAT_MODES:
        return min_max_to_uint8(np.asarray(image, dtype=np.float64))
    if image.mode in ("1", "LA"):
        return np.asarray(image.convert("L"), dtype=np.uint8).copy()
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def min_max_to_uint8(values: np.ndarray) -> np.ndarray:
    """Stretch ``values`` linearly onto 0-255 (a constant image becomes all zeros)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _read_dicom(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError) as exc:
        raise DataError(
            f"{path}: corrupt or truncated DICOM file ({type(exc).__name__}); remove it or "
            "re-export it from the PACS"
        ) from None
    return _dicom_pixels(path, ds), _safe_tags(ds)


def _dicom_pixels(path: Path, ds) -> np.ndarray:
    if "PixelData" not in ds:
        raise DataError(f"{path}: DICOM file without pixel data (not an image); remove it")
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        raise DataError(
            f"{path}: multi-frame DICOM ({ds.NumberOfFrames} frames) is not supported; "
            "export the frames as single-frame files"
        )
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for unsupported/corrupt pixel data
        raise DataError(_pixel_error(path, ds, exc)) from None
    if pixels.ndim == 3:
        return pixels.astype(np.uint8) if pixels.dtype == np.uint8 else min_max_to_uint8(pixels)
    return _grayscale_dicom(ds, pixels)


def _pixel_error(path: Path, ds, exc: Exception) -> str:
    syntax = ds.file_meta.get("TransferSyntaxUID")
    reason = " ".join(str(exc).split())
    if syntax is not None and syntax.is_compressed:
        fix = "decompress it first, e.g. `gdcmconv --raw in.dcm out.dcm`"
    else:
        fix = "the file looks corrupt or truncated; re-export it"
    return f"{path}: cannot decode DICOM pixel data (transfer syntax {syntax}: {reason}); {fix}"


def _grayscale_dicom(ds, pixels: np.ndarray) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    values = np.asarray(apply_modality_lut(pixels, ds), dtype=np.float64)
    window = _window(ds)
    if window is None:
        image = min_max_to_uint8(values)
    else:
        center, width = window
        low = center - width / 2.0
        scaled = np.clip((values - low) / width, 0.0, 1.0)
        image = np.round(scaled * 255.0).astype(np.uint8)
    if ds.get("PhotometricInterpretation", "") == "MONOCHROME1":
        image = 255 - image
    return image


def _window(ds) -> tuple[float, float] | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    # Multi-valued windows list alternatives (e.g. lung / bone); the first is the default view.
    center = float(center[0] if isinstance(center, _multivalue()) else center)
    width = float(width[0] if isinstance(width, _multivalue()) else width)
    return (center, width) if width > 0 else None


def _multivalue() -> type:
    # pydicom is imported lazily: it is needed only when a DICOM file turns up.
    from pydicom.multival import MultiValue

    return MultiValue


def _safe_tags(ds) -> dict[str, str]:
    return {
        column: str(ds.get(keyword))
        for keyword, column in SAFE_DICOM_TAGS.items()
        if ds.get(keyword) not in (None, "")
    }
