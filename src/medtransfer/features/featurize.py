"""Turn a source/target pair of Domains into feature matrices, and redo it at predict time.

``featurize_pair`` returns, besides the two matrices, a plain-data *spec* (JSON-able) of
what was done; ``featurize(domain, spec)`` applies exactly the same featurisation to a new
domain, e.g. after a saved pipeline is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from medtransfer.data.domain import Domain
from medtransfer.data.identifiers import drop_free_text
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.features.tabular import TabularEncoder
from medtransfer.features.views import TTA_VIEWS, Composed, Flip, SourceAugmentation
from medtransfer.params import Interval, ParameterError, check_value

SOURCE_ID, TARGET_ID = 1, -2


def featurize_pair(
    source: Domain,
    target: Domain,
    *,
    backbone: str = "efficientnet_lite0",
    weights: str | Path | None = None,
    image_size: int | None = None,
    cache_dir: str | Path | None = None,
    device: str | None = None,
    progress: bool = True,
    encoder: TabularEncoder | None = None,
    harmonize: str | None = None,
    random_state: int = 0,
    tta: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Features of a source and a target domain, and the spec that reproduces them.

    Images go through the backbone (cached); tables through a :class:`TabularEncoder`
    fitted on both domains' inputs (never their labels), with per-domain missingness.

    Parameters
    ----------
    source, target : Domain
        Two domains of the same kind.
    backbone, weights, image_size, cache_dir, device, progress
        Passed to :func:`extract_features` for image domains.
    encoder : TabularEncoder, optional
        Unfitted encoder to clone for table domains (e.g. with ``zero_as_missing``).
    harmonize : str, optional
        Images: a ``--harmonize`` spec (``none``, ``auto``, ``reinhard``,
        ``framing+reinhard``...), fitted on both domains' pixels and stored in the spec.
    random_state : int
        Seed of the images the harmoniser learns from.
    tta : bool
        Images: every row is the mean of the features of the image and of its left-right
        and top-bottom mirror images (test-time augmentation), at fit and at predict.

    Returns
    -------
    X_source, X_target : ndarray
    spec : dict
        JSON-able description for :func:`featurize`.
    """
    if source.kind != target.kind:
        raise ConfigError(
            f"source {source.name!r} holds {source.kind} data but target {target.name!r} "
            f"{target.kind} data; both domains must be images or both tables"
        )
    if source.kind == "table":
        if harmonize not in (None, "none"):
            raise ParameterError("featurize_pair", "harmonize", harmonize, lambda style: (
                f"changes image pixels, but source {source.name!r} is a table; use "
                f"{style.setting('harmonize', 'none')}"))
        return _tables(source, target, encoder)
    spec = image_spec(backbone, weights=weights, image_size=image_size)
    from medtransfer.features.harmonized import fit_harmonizer  # torch: images only

    harmonizer = fit_harmonizer(harmonize, source, target, random_state=random_state)
    if harmonizer is not None:
        spec["harmonizer"] = harmonizer.get_state()
    if tta:
        spec["tta"] = list(TTA_VIEWS)
    options = {"cache_dir": cache_dir, "device": device, "progress": progress}
    return featurize(source, spec, **options), featurize(target, spec, **options), spec


def _tables(
    source: Domain, target: Domain, encoder: TabularEncoder | None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    both = drop_free_text(_stack_tables(source, target), f"{source.name} + {target.name}")
    sample_domain = np.r_[np.full(len(source), SOURCE_ID), np.full(len(target), TARGET_ID)]
    fitted = clone(encoder or TabularEncoder()).fit(both, sample_domain=sample_domain)
    encoded = fitted.transform(both)
    spec = {
        "kind": "table",
        "encoder": fitted.to_dict(),
        "feature_names": [str(n) for n in fitted.get_feature_names_out()],
    }
    return encoded[: len(source)], encoded[len(source) :], spec


def _stack_tables(source: Domain, target: Domain) -> pd.DataFrame:
    absent = sorted(set(source.inputs.columns) ^ set(target.inputs.columns))
    if absent:
        raise ConfigError(
            f"source {source.name!r} and target {target.name!r} have different columns "
            f"{absent}; give both tables the same feature columns (empty values are fine)"
        )
    return pd.concat([source.inputs, target.inputs[list(source.inputs.columns)]], ignore_index=True)


def image_spec(
    backbone: str = "efficientnet_lite0",
    *,
    weights: str | Path | None = None,
    image_size: int | None = None,
) -> dict[str, Any]:
    """The spec of an image featurisation, with the sha256 of the weights it uses."""
    from medtransfer.features.backbones import backbone_config, weights_fingerprint
    from medtransfer.features.extract import check_image_size

    if image_size is not None:
        check_image_size(image_size)
    config = backbone_config(backbone)
    _, sha = weights_fingerprint(config, weights)
    return {
        "kind": "image",
        "backbone": config.name,
        "weights": _weights_reference(weights),
        "weights_sha256": sha,
        "image_size": int(image_size or config.input_size),
        "feature_dim": config.feature_dim,
        "mean": list(config.mean),
        "std": list(config.std),
        "licence": config.licence,
    }


def _weights_reference(weights: str | Path | None) -> str | None:
    """How the spec names the weights: None, "random", or an absolute file path."""
    if weights is None or str(weights) == "random":
        return None if weights is None else "random"
    return str(Path(weights).expanduser().resolve())


def featurize(
    domain: Domain,
    spec: dict[str, Any],
    *,
    cache_dir: str | Path | None = None,
    device: str | None = None,
    progress: bool = True,
    augmentation: SourceAugmentation | None = None,
) -> np.ndarray:
    """Apply the featurisation described by ``spec`` (from :func:`featurize_pair`).

    ``augmentation`` (fit time only) changes each harmonised image before the backbone.

    Raises
    ------
    ArtifactError
        If the spec is malformed or its weights file now has another sha256.
    ConfigError
        If the domain's kind differs from the spec's.
    """
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in ("image", "table"):
        raise ArtifactError(
            f"feature spec has kind {kind!r}; expected 'image' or 'table' as written by "
            "featurize_pair; re-fit the pipeline"
        )
    if domain.kind != kind:
        raise ConfigError(
            f"domain {domain.name!r} holds {domain.kind} data but the pipeline was fitted on "
            f"{kind} data; pass {kind} inputs"
        )
    if kind == "table":
        return TabularEncoder.from_dict(spec["encoder"]).transform(domain.inputs)
    from medtransfer.features.extract import extract_features  # torch: images only
    from medtransfer.features.harmonized import harmonizer_from_spec

    _check_weights_unchanged(spec)
    harmonizer = harmonizer_from_spec(spec)
    views = [None if view == "identity" else Flip(view) for view in spec.get("tta", [None])]
    rows = []
    for view in views:
        transform = Composed(harmonizer, augmentation, view)
        rows.append(extract_features(
            domain,
            spec["backbone"],
            weights=spec["weights"],
            image_size=spec["image_size"],
            cache_dir=cache_dir,
            device=device,
            progress=progress,
            transform=transform.as_transform(),
            transform_key=transform.fingerprint(),
        ))
    return rows[0] if len(rows) == 1 else np.mean(rows, axis=0, dtype=np.float64).astype(
        np.float32)


AUGMENT = Interval(int, 0, None, hint="a number of augmented copies, e.g. 2")


def augmented_features(
    domain: Domain, spec: dict[str, Any], augment: int, seed: int, **options: Any
) -> list[np.ndarray]:
    """Features of ``augment`` seeded augmented copies of an image domain, one array each.

    ``options`` are :func:`featurize`'s ``cache_dir``, ``device`` and ``progress``.
    """
    check_value("augmented_features", "augment", augment, AUGMENT)
    if augment and spec.get("kind") != "image":
        raise ParameterError("augmented_features", "augment", augment, lambda style: (
            f"changes image pixels, but the data are tables; use {style.setting('augment', 0)}"))
    return [featurize(domain, spec, augmentation=SourceAugmentation(c, seed), **options)
            for c in range(1, int(augment) + 1)]


def _check_weights_unchanged(spec: dict[str, Any]) -> None:
    from medtransfer.features.backbones import backbone_config, weights_fingerprint

    _, sha = weights_fingerprint(backbone_config(spec["backbone"]), spec["weights"])
    if sha != spec["weights_sha256"]:
        weights = spec["weights"] or f"default weights of {spec['backbone']}"
        raise ArtifactError(
            f"weights {weights!r} have sha256 "
            f"{sha[:12]}… but the pipeline was fitted with {spec['weights_sha256'][:12]}…; "
            "restore the original weights file or re-fit the pipeline"
        )
