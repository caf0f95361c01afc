"""Leakage and duplicate guard: the same case in two roles (source, labelled target, held-out).

A held-out target image that is a copy of a source image makes the "external" score a
training score. Four checks find such cases between every pair of roles and within the
last (evaluated) role:

- **exact**: the same decoded pixels (sha256 of shape, dtype and bytes) or the same table
  row (pandas' row hash over the shared columns);
- **perceptual** (images): a 256-bit DCT perceptual hash (pHash: grayscale, 64 x 64, the
  16 x 16 lowest frequencies against their median) within ``PHASH_MAX_BITS`` bits, which
  survives resizing and JPEG re-encoding. On PneumoniaMNIST (28 x 28 chest X-rays, alike
  by nature) a copy resized to 56 x 56 and JPEG-encoded at quality 70 stayed within 28 bits
  (300 images), while no test image came closer than 48 bits to any of the 2,428 training
  images; the shorter 64-bit hash could not separate the two;
- **feature** (images): a nearest neighbour in the model's feature space (standardised on
  the first role) closer than ``FEATURE_RATIO`` times the median nearest-neighbour distance
  among the first role's own samples, for copies the hashes miss (crops, heavy edits).
  Tables skip it: distinct patients with near-identical coded values are common (on the
  IWPC warfarin sites it flagged 95 of 1,067 held-out rows, 17 of them exact copies), so
  a table's duplicate is an identical row;
- **patient**: a patient id present in both roles (when the Domains carry ``patient_id``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from PIL import Image
from scipy.fft import dctn
from sklearn.neighbors import NearestNeighbors

from medtransfer.data import Domain
from medtransfer.data.images import read_image

PHASH_SIZE = 16
PHASH_BITS = PHASH_SIZE * PHASH_SIZE
PHASH_MAX_BITS = 32
FEATURE_RATIO = 0.05
KINDS = ("exact", "perceptual", "feature", "patient")
DEDUPE_MODES = ("keep", "drop", "error")
CHUNK = 2048


@dataclass
class Fingerprints:
    """Per-case fingerprints of one role: content hash, perceptual bits, features, patients."""

    exact: np.ndarray
    perceptual: np.ndarray | None = None
    features: np.ndarray | None = None
    patients: np.ndarray | None = None


@dataclass
class LeakageCheck:
    """Duplicates found between roles and within the last role.

    ``pairs`` holds one record per comparison (``between``, ``and``, one count per kind of
    :data:`KINDS` and ``cases``, the cases of the second role flagged by any kind);
    ``flagged`` the positions in the last role flagged by any comparison.
    """

    roles: dict[str, int]
    pairs: list[dict]
    flagged: np.ndarray
    thresholds: dict = field(default_factory=dict)

    @property
    def evaluated(self) -> str:
        """The last role: the one whose cases are scored (and dropped with ``drop``)."""
        return list(self.roles)[-1]

    def to_dict(self) -> dict:
        """JSON-ready summary (counts only: no ids)."""
        return {"roles": self.roles, "pairs": self.pairs, "n_flagged": int(self.flagged.size),
                "thresholds": self.thresholds}

    def summary(self) -> list[str]:
        """One line per comparison that found something (none: one line saying so)."""
        lines = []
        for pair in self.pairs:
            if pair["cases"]:
                kinds = ", ".join(f"{pair[k]} {k}" for k in KINDS if pair.get(k))
                where = ("within " + pair["and"] if pair["between"] == pair["and"]
                         else f"{pair['and']} vs {pair['between']}")
                lines.append(f"{where}: {pair['cases']} of {self.roles[pair['and']]} cases "
                             f"({kinds})")
        return lines or [f"no duplicates found between {', '.join(self.roles)}"]


def pixel_hash(image: np.ndarray) -> str:
    """sha256 of a decoded image's shape, dtype and pixels (the file format does not count)."""
    image = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{image.shape}{image.dtype}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def perceptual_hash(image: np.ndarray) -> np.ndarray:
    """DCT perceptual hash (pHash) of an image, as ``PHASH_BITS`` booleans."""
    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    gray = Image.fromarray(pixels).convert("L")
    side = 4 * PHASH_SIZE
    small = np.asarray(gray.resize((side, side), Image.Resampling.LANCZOS), dtype=float)
    low = dctn(small, norm="ortho")[:PHASH_SIZE, :PHASH_SIZE].ravel()
    return low > np.median(low[1:])  # the DC term would dominate the median


def images_of(domain: Domain):
    """Decoded images of an image domain, one at a time."""
    if isinstance(domain.inputs, np.ndarray):
        yield from domain.inputs
    else:
        for path in domain.inputs:
            yield read_image(path)


def fingerprint(
    domain: Domain, *, columns: list[str] | None = None, features: np.ndarray | None = None
) -> Fingerprints:
    """Fingerprints of every case of ``domain`` (``columns``: the table columns compared)."""
    perceptual = None
    if domain.kind == "image":
        pairs = [(pixel_hash(im), perceptual_hash(im)) for im in images_of(domain)]
        exact = np.array([p[0] for p in pairs], dtype=object)
        perceptual = np.array([p[1] for p in pairs], dtype=bool).reshape(len(pairs), PHASH_BITS)
    else:
        table = domain.inputs if columns is None else domain.inputs[columns]
        exact = pd.util.hash_pandas_object(table.astype(str), index=False).to_numpy().astype(str)
    patients = domain.patient_ids
    return Fingerprints(exact, perceptual, features,
                        None if patients is None else patients.astype(str))


def fingerprint_roles(
    roles: Mapping[str, Domain], features: Mapping[str, np.ndarray] | None = None
) -> dict[str, Fingerprints]:
    """Fingerprints of each role; tables are compared on the columns all roles share."""
    domains = list(roles.values())
    columns = None
    if domains and domains[0].kind == "table":
        shared = set.intersection(*(set(map(str, d.inputs.columns)) for d in domains))
        columns = sorted(c for c in domains[0].inputs.columns if str(c) in shared)
    return {name: fingerprint(d, columns=columns, features=(features or {}).get(name))
            for name, d in roles.items()}


def hamming_matches(a: np.ndarray, b: np.ndarray, max_bits: int, *, same: bool) -> np.ndarray:
    """Per row of ``b``: whether some row of ``a`` is within ``max_bits`` bits (``same``:
    ``a`` is ``b`` and only an earlier row counts)."""
    hit = np.zeros(len(b), dtype=bool)
    fa = a.astype(np.float32)
    for start in range(0, len(b), CHUNK):
        fb = b[start:start + CHUNK].astype(np.float32)
        # bits that differ = ones in a but not b + ones in b but not a
        dist = fb @ (1 - fa).T + (1 - fb) @ fa.T
        if same:
            rows = np.arange(start, start + len(fb))[:, None]
            dist[np.arange(len(a))[None, :] >= rows] = np.inf
        hit[start:start + len(fb)] = (dist <= max_bits).any(axis=1)
    return hit


def feature_matches(a: np.ndarray, b: np.ndarray, radius: float, *, same: bool) -> np.ndarray:
    """Per row of ``b``: whether a row of ``a`` (an earlier one when ``same``) lies within
    ``radius``."""
    if same:
        hit = np.zeros(len(b), dtype=bool)
        nn = NearestNeighbors(radius=radius).fit(a)
        for i, neighbours in enumerate(nn.radius_neighbors(b, return_distance=False)):
            hit[i] = bool(np.any(neighbours < i))
        return hit
    dist, _ = NearestNeighbors(n_neighbors=1).fit(a).kneighbors(b)
    return dist[:, 0] <= radius


def feature_radius(reference: np.ndarray) -> float:
    """``FEATURE_RATIO`` times the median distance of each reference case to its nearest
    other reference case (0 when there are fewer than two)."""
    if len(reference) < 2:
        return 0.0
    dist, _ = NearestNeighbors(n_neighbors=2).fit(reference).kneighbors(reference)
    return float(FEATURE_RATIO * np.median(dist[:, 1]))


def compare(
    a: Fingerprints, b: Fingerprints, radius: float, *, same: bool
) -> dict[str, np.ndarray]:
    """Per kind, the mask of ``b``'s cases that duplicate a case of ``a``."""
    if same:
        _, first = np.unique(b.exact, return_index=True)
        exact = np.ones(len(b.exact), dtype=bool)
        exact[first] = False
    else:
        exact = np.isin(b.exact, a.exact)
    found = {"exact": exact}
    if not (len(a.exact) and len(b.exact)):
        return found
    if a.perceptual is not None and b.perceptual is not None:
        found["perceptual"] = hamming_matches(a.perceptual, b.perceptual, PHASH_MAX_BITS,
                                              same=same)
    if a.features is not None and b.features is not None and radius > 0:
        found["feature"] = feature_matches(a.features, b.features, radius, same=same)
    if a.patients is not None and b.patients is not None and not same:
        found["patient"] = np.isin(b.patients, a.patients)
    return found


def check_leakage(
    roles: Mapping[str, Domain], features: Mapping[str, np.ndarray] | None = None
) -> LeakageCheck:
    """Find duplicates between every pair of roles and within the last one.

    Parameters
    ----------
    roles : mapping of str to Domain
        The roles in order (``{"source": ..., "labelled target": ..., "held-out target":
        ...}``); the last is the one evaluated.
    features : mapping of str to ndarray, optional
        The model's features of each role, for the feature-space check.

    Returns
    -------
    LeakageCheck
    """
    images = next(iter(roles.values())).kind == "image"
    prints = fingerprint_roles(roles, _standardised(features, next(iter(roles))) if images
                               else None)
    names = list(prints)
    reference = prints[names[0]].features
    radius = feature_radius(reference) if reference is not None else 0.0
    last = names[-1]
    flagged = np.zeros(len(prints[last].exact), dtype=bool)
    pairs = []
    for a, b in [*combinations(names, 2), (last, last)]:
        found = compare(prints[a], prints[b], radius, same=a == b)
        union = np.logical_or.reduce(list(found.values()))
        if b == last:
            flagged |= union
        pairs.append({"between": a, "and": b, **{k: int(v.sum()) for k, v in found.items()},
                      "cases": int(union.sum())})
    thresholds = {"perceptual_max_bits": PHASH_MAX_BITS, "feature_ratio": FEATURE_RATIO,
                  "feature_radius": radius}
    return LeakageCheck({n: len(p.exact) for n, p in prints.items()}, pairs,
                        np.flatnonzero(flagged), thresholds)


def _standardised(
    features: Mapping[str, np.ndarray] | None, first: str
) -> dict[str, np.ndarray] | None:
    """Every role's features standardised with the first role's mean and spread."""
    if not features or first not in features:
        return None
    ref = np.asarray(features[first], dtype=float)
    mean, std = ref.mean(axis=0), ref.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return {k: (np.asarray(v, dtype=float) - mean) / std for k, v in features.items()}
