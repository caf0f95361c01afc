"""Acquisition shift: a new image domain made by the changes X-ray devices really differ in.

Each corruption is registered in :data:`CORRUPTIONS` and takes the MedMNIST-C parameters
published for PneumoniaMNIST (Di Salvo et al. 2024), severities 1-5 (:data:`SEVERITIES`).
Intensities are worked on in [0, 1] and rounded back to uint8.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from PIL import Image, ImageEnhance
from scipy.ndimage import gaussian_filter

from medtransfer.data.domain import Domain
from medtransfer.data.images import read_image
from medtransfer.errors import ConfigError, DataError
from medtransfer.registry import Registry

Corruption = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
CORRUPTIONS: Registry[Corruption] = Registry("corruption", "medtransfer corruptions")

SEVERITIES: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.04, 0.05, 0.06, 0.07, 0.08),
    "speckle_noise": (0.05, 0.07, 0.10, 0.15, 0.20),
    "impulse_noise": (0.005, 0.01, 0.013, 0.017, 0.02),
    "shot_noise": (300, 200, 150, 100, 80),
    "gaussian_blur": (3, 5, 7, 9, 11),
    "jpeg": (50, 30, 15, 10, 7),
    "pixelate": (0.8, 0.7, 0.6, 0.5, 0.4),
    "brightness_up": (1.1, 1.2, 1.3, 1.4, 1.5),
    "brightness_down": (0.9, 0.8, 0.7, 0.6, 0.5),
    "contrast_up": (1.1, 1.2, 1.3, 1.4, 1.6),
    "contrast_down": (0.9, 0.8, 0.7, 0.6, 0.4),
    "gamma_up": (1.1, 1.2, 1.3, 1.4, 1.6),
    "gamma_down": (0.9, 0.8, 0.7, 0.6, 0.4),
}


def shift_images(domain: Domain, corruption: str, severity: int = 3, seed: int = 0) -> Domain:
    """A copy of an image domain with one acquisition corruption applied to every image.

    Parameters
    ----------
    domain : Domain
        Image domain (array or file-path inputs; file images must share one shape).
    corruption : str
        A name in :data:`CORRUPTIONS` (``medtransfer corruptions`` lists them), e.g.
        ``"gaussian_noise"``, ``"contrast_down"``.
    severity : int, default 3
        1 (mild) to 5 (strong), the MedMNIST-C levels for PneumoniaMNIST.
    seed : int, default 0
        Seed of the random corruptions; the same seed gives identical bytes.

    Returns
    -------
    Domain
        Named ``<name>/<corruption>-<severity>``, with uint8 array inputs, the same ids and
        labels, and ``corruption``/``severity`` columns added to the metadata.
    """
    apply = CORRUPTIONS.get(corruption)
    if isinstance(severity, bool) or severity not in range(1, 6):
        raise ConfigError(f"severity must be an integer from 1 to 5, got {severity!r}")
    images = _image_array(domain)
    value = SEVERITIES[corruption][severity - 1]
    rng = np.random.default_rng(seed)
    shifted = np.stack([_per_plane(apply, image, value, rng) for image in images])
    metadata = domain.metadata.copy() if len(domain.metadata) else _empty_rows(len(domain))
    metadata["corruption"] = corruption
    metadata["severity"] = severity
    return replace(
        domain,
        name=f"{domain.name}/{corruption}-{severity}",
        inputs=shifted,
        metadata=metadata,
    )


def _image_array(domain: Domain) -> np.ndarray:
    if domain.kind != "image":
        raise DataError(f"domain {domain.name!r} is a {domain.kind}; shift_images needs images")
    if isinstance(domain.inputs, np.ndarray):
        return domain.inputs
    images = [read_image(path) for path in domain.inputs]
    shapes = sorted({image.shape for image in images})
    if len(shapes) > 1:
        raise DataError(
            f"domain {domain.name!r}: images differ in shape ({shapes[0]} vs {shapes[-1]}); "
            "resize them to one size before shifting"
        )
    return np.stack(images)


def _per_plane(apply: Corruption, image: np.ndarray, value: float, rng) -> np.ndarray:
    # A trailing channel axis of 1 (n, H, W, 1) is dropped for Pillow and put back after.
    if image.ndim == 3 and image.shape[2] == 1:
        return apply(image[..., 0], value, rng)[..., None]
    return apply(image, value, rng)


def _empty_rows(n: int) -> pd.DataFrame:
    return pd.DataFrame(index=range(n))


def _to_unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) / 255.0


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)


@CORRUPTIONS.register("gaussian_noise")
def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise (electronic detector noise), std ``sigma`` on [0, 1]."""
    x = _to_unit(image)
    return _to_uint8(x + rng.normal(scale=sigma, size=x.shape))


@CORRUPTIONS.register("speckle_noise")
def speckle_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative Gaussian noise x + x·N(0, sigma)."""
    x = _to_unit(image)
    return _to_uint8(x + x * rng.normal(scale=sigma, size=x.shape))


@CORRUPTIONS.register("impulse_noise")
def impulse_noise(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Salt-and-pepper noise (dead and hot pixels) on a fraction ``amount`` of pixels."""
    out = image.copy()
    hit = rng.random(image.shape) < amount
    salt = rng.random(image.shape) < 0.5
    out[hit & salt] = 255
    out[hit & ~salt] = 0
    return out


@CORRUPTIONS.register("shot_noise")
def shot_noise(image: np.ndarray, photons: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson (quantum) noise of a low-dose exposure with ``photons`` at full intensity."""
    return _to_uint8(rng.poisson(_to_unit(image) * photons) / photons)


@CORRUPTIONS.register("gaussian_blur")
def gaussian_blur(image: np.ndarray, kernel: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur (detector unsharpness) with a ``kernel``-pixel kernel."""
    kernel = int(kernel)
    # The sigma torchvision and OpenCV derive from a kernel size, as MedMNIST-C used.
    sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8
    blurred = gaussian_filter(
        image.astype(np.float64), sigma=sigma, radius=(kernel - 1) // 2, mode="mirror", axes=(0, 1)
    )
    return np.round(np.clip(blurred, 0, 255)).astype(np.uint8)


@CORRUPTIONS.register("jpeg")
def jpeg(image: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """JPEG compression artefacts at the given ``quality`` (lossy PACS export)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as compressed:
        return np.asarray(compressed.convert(Image.fromarray(image).mode)).copy()


@CORRUPTIONS.register("pixelate")
def pixelate(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Lower resolution: box-downsample by ``factor`` and box-upsample back."""
    pil = Image.fromarray(image)
    small = (max(1, int(pil.width * factor)), max(1, int(pil.height * factor)))
    return np.asarray(pil.resize(small, Image.BOX).resize(pil.size, Image.BOX)).copy()


def _enhance(enhancer: type, image: np.ndarray, factor: float) -> np.ndarray:
    return np.asarray(enhancer(Image.fromarray(image)).enhance(factor)).copy()


def _gamma(image: np.ndarray, gamma: float) -> np.ndarray:
    table = np.round(255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return table[image]


@CORRUPTIONS.register("brightness_up")
def brightness_up(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Brighter exposure: intensities times ``factor`` (> 1), clipped."""
    return _enhance(ImageEnhance.Brightness, image, factor)


@CORRUPTIONS.register("brightness_down")
def brightness_down(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Darker exposure: intensities times ``factor`` (< 1)."""
    return _enhance(ImageEnhance.Brightness, image, factor)


@CORRUPTIONS.register("contrast_up")
def contrast_up(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """More contrast: distance from the mean grey times ``factor`` (> 1)."""
    return _enhance(ImageEnhance.Contrast, image, factor)


@CORRUPTIONS.register("contrast_down")
def contrast_down(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Less contrast: distance from the mean grey times ``factor`` (< 1)."""
    return _enhance(ImageEnhance.Contrast, image, factor)


@CORRUPTIONS.register("gamma_up")
def gamma_up(image: np.ndarray, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """Gamma > 1 (another detector response curve): 255·(x/255)^gamma, darker mid-tones."""
    return _gamma(image, gamma)


@CORRUPTIONS.register("gamma_down")
def gamma_down(image: np.ndarray, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """Gamma < 1: 255·(x/255)^gamma, brighter mid-tones."""
    return _gamma(image, gamma)
