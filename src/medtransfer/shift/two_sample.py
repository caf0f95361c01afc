"""Two-sample tests: are source and target features drawn from the same distribution?

Two complementary tests, both with permutation p-values ``(1 + #{T_perm >= T}) / (1 + B)``:
the kernel maximum mean discrepancy (Gretton et al., JMLR 2012) and a domain classifier
(Lopez-Paz & Oquab, ICLR 2017), whose error also gives the proxy A-distance
(Ben-David et al., 2010).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from medtransfer.errors import ConfigError, DataError

MIN_SAMPLES = 5
MULTI_KERNEL_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def check_pair(Xs, Xt, *, min_samples: int = MIN_SAMPLES, what: str = "two-sample test"):
    """Validate two feature matrices for a test between domains.

    Parameters
    ----------
    Xs, Xt : array-like of shape (n_source, d) and (n_target, d)
        Source and target features (finite numbers, the same columns).
    min_samples : int, default 5
        Fewest rows each domain needs.
    what : str
        Name of the calling test, quoted in error messages.

    Returns
    -------
    Xs, Xt : ndarray of float64, 2-D
    """
    arrays = []
    for name, X in (("source", Xs), ("target", Xt)):
        X = np.asarray(X, dtype=float)
        X = X.reshape(-1, 1) if X.ndim == 1 else X
        if X.ndim != 2:
            raise DataError(f"{what}: {name} features have shape {X.shape}; expected (n, d)")
        if len(X) == 0:
            raise DataError(
                f"{what}: the {name} domain is empty; pass at least {min_samples} samples"
            )
        if len(X) < min_samples:
            raise DataError(
                f"{what}: the {name} domain has {len(X)} samples, too few for a test; "
                f"it needs at least {min_samples} per domain"
            )
        if not np.isfinite(X).all():
            raise DataError(
                f"{what}: {name} features contain NaN or infinite values; impute or drop them "
                "first (e.g. median imputation of each column)"
            )
        arrays.append(X)
    if arrays[0].shape[1] != arrays[1].shape[1]:
        raise DataError(
            f"{what}: source has {arrays[0].shape[1]} features but target has "
            f"{arrays[1].shape[1]}; encode both domains with the same feature extractor/encoder"
        )
    return arrays[0], arrays[1]


def _subsample(X: np.ndarray, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    if len(X) <= max_samples:
        return X
    return X[np.sort(rng.choice(len(X), max_samples, replace=False))]


def _check_budget(n_permutations: int, max_samples: int) -> None:
    if n_permutations < 1:
        raise ConfigError(f"n_permutations={n_permutations}; expected a positive integer")
    if max_samples < MIN_SAMPLES:
        raise ConfigError(f"max_samples={max_samples}; expected at least {MIN_SAMPLES}")


def permutation_p_value(observed: float, permuted: np.ndarray) -> float:
    """``(1 + #{permuted >= observed}) / (1 + B)``: valid, never exactly zero."""
    return float((1 + np.sum(permuted >= observed)) / (1 + len(permuted)))


def kernel_matrix(Z: np.ndarray, kernel: str) -> tuple[np.ndarray, list[float]]:
    """RBF Gram matrix with the median-heuristic bandwidth (or an average over several).

    ``k(x, y) = exp(-||x - y||^2 / (2 s^2))`` with ``2 s^2 = median ||x - y||^2`` over the
    pooled pairs; "multi" averages kernels with bandwidths ``s * (0.25, 0.5, 1, 2, 4)``.
    """
    d2 = cdist(Z, Z, "sqeuclidean")
    median = float(np.median(d2[np.triu_indices(len(Z), k=1)]))
    # All-identical rows give a zero median; any positive bandwidth then gives K = 1.
    median = median if median > 0 else 1.0
    base = np.sqrt(median / 2.0)
    if kernel == "rbf":
        scales = (1.0,)
    elif kernel == "multi":
        scales = MULTI_KERNEL_SCALES
    else:
        raise ConfigError(f"kernel={kernel!r}; expected 'rbf' or 'multi'")
    bandwidths = [base * c for c in scales]
    K = np.mean([np.exp(-d2 / (2.0 * s**2)) for s in bandwidths], axis=0)
    return K, bandwidths


def unbiased_mmd2(K: np.ndarray, is_source: np.ndarray) -> np.ndarray:
    """Unbiased MMD² for one or many source/target splits of the pooled Gram matrix ``K``.

    Parameters
    ----------
    K : ndarray of shape (N, N)
    is_source : ndarray of bool, shape (N,) or (N, B)
        Each column marks which pooled rows form the source sample.

    Returns
    -------
    ndarray of shape () or (B,)
    """
    S = np.asarray(is_source, dtype=float)
    K0 = K - np.diag(np.diag(K))
    KS = K0 @ S
    m = S.sum(axis=0)
    n = len(K) - m
    within_s = np.sum(S * KS, axis=0)
    cross = np.sum((1.0 - S) * KS, axis=0)
    within_t = K0.sum() - 2.0 * cross - within_s
    return within_s / (m * (m - 1)) + within_t / (n * (n - 1)) - 2.0 * cross / (m * n)


def mmd_test(
    Xs,
    Xt,
    *,
    kernel: str = "rbf",
    n_permutations: int = 200,
    max_samples: int = 2000,
    random_state: int | None = 0,
) -> dict:
    """Kernel two-sample test: unbiased MMD² with a permutation p-value.

    Parameters
    ----------
    Xs, Xt : array-like of shape (n_source, d), (n_target, d)
        Source and target features.
    kernel : {"rbf", "multi"}, default "rbf"
        One RBF kernel at the median-heuristic bandwidth, or the average of five around it.
    n_permutations : int, default 200
        Number of random relabellings of the pooled sample.
    max_samples : int, default 2000
        Each domain larger than this is randomly subsampled to it (the result says so).
    random_state : int or None, default 0
        Seed of the subsampling and the permutations.

    Returns
    -------
    dict
        ``statistic`` (MMD²), ``p_value``, ``kernel``, ``bandwidths``, ``n_permutations``,
        ``n_source``, ``n_target`` (rows used) and ``subsampled`` (rows used in all, or None
        when every row was used).
    """
    Xs, Xt = check_pair(Xs, Xt, what="MMD test")
    _check_budget(n_permutations, max_samples)
    rng = np.random.default_rng(random_state)
    Ys, Yt = _subsample(Xs, max_samples, rng), _subsample(Xt, max_samples, rng)
    K, bandwidths = kernel_matrix(np.vstack([Ys, Yt]), kernel)
    labels = np.r_[np.ones(len(Ys), bool), np.zeros(len(Yt), bool)]
    permuted = np.column_stack([rng.permutation(labels) for _ in range(n_permutations)])
    observed = float(unbiased_mmd2(K, labels))
    null = unbiased_mmd2(K, permuted)
    used = len(Ys) + len(Yt)
    return {
        "statistic": observed,
        "p_value": permutation_p_value(observed, null),
        "kernel": kernel,
        "bandwidths": bandwidths,
        "n_permutations": n_permutations,
        "n_source": len(Ys),
        "n_target": len(Yt),
        "subsampled": used if used < len(Xs) + len(Xt) else None,
    }


def _domain_scores(Z: np.ndarray, d: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Out-of-fold target-vs-source decision scores of a logistic regression."""
    scores = np.empty(len(d))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in folds.split(Z, d):
        # liblinear: ~40x faster than lbfgs on these small problems, refitted B x k times.
        model = LogisticRegression(C=1.0, solver="liblinear").fit(Z[train], d[train])
        scores[test] = model.decision_function(Z[test])
    return scores


def classifier_test(
    Xs,
    Xt,
    *,
    n_permutations: int = 100,
    max_samples: int = 1000,
    n_splits: int = 5,
    random_state: int | None = 0,
) -> dict:
    """Domain-classifier two-sample test with the proxy A-distance.

    A logistic regression learns to tell target from source rows; its cross-validated
    AUROC is the statistic, compared with the AUROCs after shuffling the domain labels.

    Parameters
    ----------
    Xs, Xt : array-like of shape (n_source, d), (n_target, d)
        Source and target features.
    n_permutations : int, default 100
        Number of refits on shuffled domain labels (each is a full cross-validation).
    max_samples : int, default 1000
        Each domain larger than this is randomly subsampled to it (the result says so).
    n_splits : int, default 5
        Cross-validation folds (fewer when a domain is smaller).
    random_state : int or None, default 0
        Seed of the subsampling, the folds and the permutations.

    Returns
    -------
    dict
        ``auc``, ``p_value``, ``balanced_error``, ``proxy_a_distance`` = 2 (1 - 2 err),
        clipped at 0 (err is the balanced cross-validated error), ``n_permutations``,
        ``n_source``, ``n_target`` and ``subsampled``.
    """
    Xs, Xt = check_pair(Xs, Xt, what="classifier test")
    _check_budget(n_permutations, max_samples)
    rng = np.random.default_rng(random_state)
    Ys, Yt = _subsample(Xs, max_samples, rng), _subsample(Xt, max_samples, rng)
    # Standardising the pooled rows ignores the domain labels, so permutations stay valid.
    Z = StandardScaler().fit_transform(np.vstack([Ys, Yt]))
    d = np.r_[np.zeros(len(Ys), int), np.ones(len(Yt), int)]
    k = min(n_splits, len(Ys), len(Yt))
    seed = int(rng.integers(2**31 - 1))
    scores = _domain_scores(Z, d, k, seed)
    auc = float(roc_auc_score(d, scores))
    null = np.array([roc_auc_score(p, _domain_scores(Z, p, k, seed))
                     for p in (rng.permutation(d) for _ in range(n_permutations))])
    error = 1.0 - balanced_accuracy_score(d, (scores > 0).astype(int))
    used = len(Z)
    return {
        "auc": auc,
        "p_value": permutation_p_value(auc, null),
        "balanced_error": float(error),
        "proxy_a_distance": float(max(0.0, 2.0 * (1.0 - 2.0 * error))),
        "n_permutations": n_permutations,
        "n_source": len(Ys),
        "n_target": len(Yt),
        "subsampled": used if used < len(Xs) + len(Xt) else None,
    }
