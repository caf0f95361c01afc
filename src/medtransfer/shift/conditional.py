"""Class-conditional shift: does p(x | y) differ between domains, class by class?

Needs labels in both domains. Each class shared by the domains gets its own MMD test; the
p-values are Benjamini-Hochberg corrected across classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medtransfer.shift.label_shift import check_class_labels
from medtransfer.shift.tabular import adjust_p_values
from medtransfer.shift.two_sample import MIN_SAMPLES, check_pair, mmd_test


def per_class_shift(
    Xs,
    ys,
    Xt,
    yt,
    *,
    class_names: Sequence[str] | None = None,
    n_permutations: int = 200,
    random_state: int | None = 0,
) -> list[dict]:
    """MMD test between the domains within each class.

    Parameters
    ----------
    Xs, Xt : array-like of shape (n_source, d), (n_target, d)
        Source and target features.
    ys, yt : array-like of int
        Class codes per row; ``-1`` marks an unlabelled row (left out).
    class_names : sequence of str, optional
        Names for the class codes, used in the result.
    n_permutations : int, default 200
        Permutations per class test.
    random_state : int or None, default 0
        Seed of every per-class test.

    Returns
    -------
    list of dict
        One row per class seen in either domain: ``class``, ``n_source``, ``n_target``,
        ``statistic``, ``p_value``, ``q_value`` (None with a ``note`` when a domain has fewer
        than 5 samples of the class).
    """
    Xs, Xt = check_pair(Xs, Xt, what="per-class shift")
    ys = check_class_labels(ys, len(Xs), "per-class shift (source)")
    yt = check_class_labels(yt, len(Xt), "per-class shift (target)")
    rows = []
    for c in np.union1d(ys[ys >= 0], yt[yt >= 0]):
        name = class_names[c] if class_names is not None and c < len(class_names) else str(c)
        a, b = Xs[ys == c], Xt[yt == c]
        row = {"class": name, "n_source": len(a), "n_target": len(b)}
        if min(len(a), len(b)) < MIN_SAMPLES:
            note = f"needs at least {MIN_SAMPLES} samples of the class in each domain"
            rows.append(row | {"statistic": None, "p_value": None, "note": note})
            continue
        test = mmd_test(a, b, n_permutations=n_permutations, random_state=random_state)
        rows.append(row | {"statistic": test["statistic"], "p_value": test["p_value"]})
    q = adjust_p_values([np.nan if r["p_value"] is None else r["p_value"] for r in rows])
    for row, value in zip(rows, q, strict=True):
        row["q_value"] = None if np.isnan(value) else float(value)
    return rows
