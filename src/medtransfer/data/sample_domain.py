"""skada's domain convention for stacked data.

One ``X``, one ``y`` and ``sample_domain``: positive values mark source rows, negative values
target rows; unlabelled target rows carry ``y = -1`` (classification) or NaN (regression).
"""

from __future__ import annotations

import numpy as np

SOURCE, TARGET = 1, -2


def domain_masks(y: np.ndarray, sample_domain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of (labelled source rows, labelled target rows) under skada's convention."""
    sample_domain = np.asarray(sample_domain)
    y = np.asarray(y)
    labelled = ~np.isnan(y) if y.dtype.kind == "f" else y != -1
    return (sample_domain > 0) & labelled, (sample_domain < 0) & labelled
