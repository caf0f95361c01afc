"""Which target samples are labelled: k drawn stratified by class, or ids listed in a file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medtransfer.data.domain import Domain
from medtransfer.errors import ConfigError, DataError
from medtransfer.params import Interval, ParameterError, check_value

TARGET_LABELS = Interval(int, 0, None, hint="the number of labelled target samples, e.g. 20")


def choose_labelled(domain: Domain, target_labels: int, random_state: int = 0) -> np.ndarray:
    """Positions of ``target_labels`` (k) labelled samples of ``domain``, stratified by class
    and seeded.

    Every class present gets at least one sample when k allows it; the rest is shared in
    proportion to the class counts. Regression targets are sampled uniformly.
    """
    check_value("choose_labelled", "target_labels", target_labels, TARGET_LABELS)
    k = int(target_labels)
    if k == 0:
        return np.array([], dtype=int)
    available = np.flatnonzero(domain.labelled_mask)
    if k > len(available):
        raise ParameterError("choose_labelled", "target_labels", target_labels, lambda style: (
            f"is larger than the {len(available)} labelled samples of target "
            f"{domain.name!r}; pass at most {len(available)}"))
    rng = np.random.default_rng(random_state)
    if domain.is_regression:
        return np.sort(rng.choice(available, size=k, replace=False))
    codes = domain.labels[available]
    classes, counts = np.unique(codes, return_counts=True)
    quota = _allocate(k, counts)
    chosen = [
        rng.choice(available[codes == c], size=q, replace=False)
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def _allocate(k: int, counts: np.ndarray) -> np.ndarray:
    """Split ``k`` over classes: one each first (when possible), then by largest remainder."""
    quota = np.zeros_like(counts)
    if k >= len(counts):
        quota += 1
    share = (k - quota.sum()) * counts / counts.sum()
    quota += np.floor(share).astype(int)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    for i in order[: k - quota.sum()]:
        quota[i] += 1
    return np.minimum(quota, counts)


def per_class_subset(
    domain: Domain, n: int, random_state: int = 0, *, max_share: float = 1.0
) -> np.ndarray:
    """Positions of up to ``n`` samples of every labelled class, seeded and sorted.

    Unlike :func:`choose_labelled` (k in total, shared by class frequency), each class gets
    ``n`` on its own: a rarer class gives all it has. ``max_share`` caps a class at that
    share of its samples (at least one), e.g. 0.5 keeps half of every class for testing.
    """
    if n < 0:
        raise ConfigError(f"samples per class must be >= 0, got {n}")
    if not 0 < max_share <= 1:
        raise ConfigError(f"max_share must be in (0, 1], got {max_share}")
    rng = np.random.default_rng(random_state)
    labels = domain.labels[domain.labelled_mask] if domain.labels is not None else []
    chosen = [np.array([], dtype=int)]
    for c in np.unique(labels):
        members = np.flatnonzero(domain.labels == c)
        size = min(n, max(1, int(max_share * len(members))))
        chosen.append(rng.choice(members, size=size, replace=False))
    return np.sort(np.concatenate(chosen)).astype(int)


def labelled_from_ids(
    domain: Domain, ids: Sequence[str], source: str = "the id list"
) -> np.ndarray:
    """Positions in ``domain`` of the samples named by ``ids`` (each must exist and be labelled)."""
    position = {str(i): n for n, i in enumerate(domain.ids)}
    missing = [i for i in ids if str(i) not in position]
    if missing:
        raise DataError(
            f"{source}: {len(missing)} id(s) not found in target {domain.name!r}, e.g. "
            f"{missing[:3]}; ids must match the target's id column or relative file paths"
        )
    index = np.array(sorted(position[str(i)] for i in ids), dtype=int)
    unlabelled = index[~domain.labelled_mask[index]]
    if len(unlabelled):
        raise DataError(
            f"{source}: id(s) {[str(domain.ids[i]) for i in unlabelled[:3]]} have no label in "
            f"target {domain.name!r}"
        )
    return index


def read_id_file(path: Path) -> list[str]:
    """Ids from a text file (one per line) or a CSV whose first column holds them."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise DataError(f"cannot read the target-label id file {path}: {err}") from None
    ids = [line.split(",")[0].strip() for line in lines if line.strip()]
    if ids and ids[0].lower() in {"id", "ids"}:
        ids = ids[1:]
    if not ids:
        raise DataError(f"target-label id file {path} lists no ids; put one id per line")
    return ids
