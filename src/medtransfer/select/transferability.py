"""Transferability scores: how well will features (or a source model) serve the target task?

Each score takes what a candidate produces on the labelled target samples and the target
labels, and returns one number, higher = expected to transfer better:

- ``logme``: log marginal evidence of a Bayesian linear model on the features
  (You et al., ICML 2021), averaged over one-vs-rest label columns;
- ``leep``: log expected empirical prediction from a source classifier's probabilities over
  its own classes (Nguyen et al., ICML 2020);
- ``nce``: negative conditional entropy H(Y | Z) of target labels given source
  pseudo-labels (Tran et al., ICCV 2019);
- ``hscore``: tr(cov(f)^-1 cov(E[f | y])) (Bao et al., ICIP 2019);
- ``hscore_shrinkage``: the H-score with a Ledoit-Wolf shrunk feature covariance
  (Ibrahim et al., ICLR 2023), stable when features outnumber samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.covariance import LedoitWolf

from medtransfer.data.sample_domain import target_type
from medtransfer.errors import ConfigError, DataError
from medtransfer.registry import Registry

Score = Callable[[np.ndarray, np.ndarray], float]
TRANSFERABILITY: Registry[Score] = Registry("transferability score", "medtransfer rank --help")


def check_features(features, labels, what: str) -> tuple[np.ndarray, np.ndarray]:
    """2-D finite features and 1-D labels of the same length, or a DataError."""
    F = np.asarray(features, dtype=float)
    F = F.reshape(-1, 1) if F.ndim == 1 else F
    y = np.asarray(labels)
    if F.ndim != 2 or y.ndim != 1 or len(F) != len(y):
        raise DataError(f"{what}: features of shape {F.shape} and labels of shape {y.shape}; "
                        "expected (n, d) and (n,) with the same n")
    if len(y) < 2:
        raise DataError(f"{what}: {len(y)} labelled samples; needs at least 2")
    if not np.isfinite(F).all():
        raise DataError(f"{what}: features contain NaN or infinite values; impute them first")
    return F, y


def class_codes(labels: np.ndarray, what: str) -> tuple[np.ndarray, int]:
    """Codes 0..k-1 of the classes present, or a DataError for continuous labels."""
    if target_type(labels) == "regression":
        raise DataError(f"{what}: labels are continuous; this score needs class labels "
                        "(use 'logme', which also handles regression targets)")
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{what}: only one class ({classes[0]!r}) among the labels; "
                        "a transferability score needs at least two")
    return codes, len(classes)


def _evidence_fixed_point(sigma, z2, delta, n, d, max_iter=100, tol=1e-4) -> float:
    """Maximise the evidence over (alpha, beta) for one label column; return it per sample."""
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        t = alpha / beta
        gamma = np.sum(sigma / (sigma + t))
        m2 = np.sum(sigma * z2 / (t + sigma) ** 2)
        res2 = np.sum(z2 * (t / (t + sigma)) ** 2) + delta
        alpha, beta = gamma / (m2 + 1e-12), (n - gamma) / (res2 + 1e-12)
        if abs(alpha / beta - t) / t < tol:
            break
    m2 = np.sum(sigma * z2 * beta**2 / (alpha + beta * sigma) ** 2)
    res2 = np.sum(z2 * (alpha / (alpha + beta * sigma)) ** 2) + delta
    # Directions outside the features' row space have eigenvalue 0: each adds log(alpha).
    logdet = np.sum(np.log(alpha + beta * sigma)) + (d - len(sigma)) * np.log(alpha)
    evidence = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - alpha / 2 * m2
                - beta / 2 * res2 - logdet / 2 - n / 2 * np.log(2 * np.pi))
    return float(evidence / n)


def _targets(y: np.ndarray, regression: bool | None) -> np.ndarray:
    if regression or (regression is None and target_type(y) == "regression"):
        return y.astype(float).reshape(-1, 1)
    codes, k = class_codes(y, "LogME")
    return np.eye(k)[codes]


@TRANSFERABILITY.register("logme")
def logme(features, labels, *, regression: bool | None = None) -> float:
    """LogME: mean log evidence per sample of a Bayesian linear model on the features.

    Parameters
    ----------
    features : array-like of shape (n, d)
    labels : array-like of shape (n,)
        Class labels (one-hot columns are scored and averaged) or continuous targets.
    regression : bool or None, default None
        Treat labels as continuous; None decides from the values (non-integer floats).

    Returns
    -------
    float
    """
    F, y = check_features(features, labels, "LogME")
    Y = _targets(y, regression)
    n, d = F.shape
    u, s, _ = np.linalg.svd(F, full_matrices=False)
    sigma = s**2
    Z = u.T @ Y
    delta = np.sum(Y**2, axis=0) - np.sum(Z**2, axis=0)
    return float(np.mean([
        _evidence_fixed_point(sigma, Z[:, j] ** 2, max(delta[j], 0.0), n, d)
        for j in range(Y.shape[1])
    ]))


def _check_probabilities(P: np.ndarray, what: str) -> None:
    if P.shape[1] < 2 or (P < 0).any() or not np.allclose(P.sum(axis=1), 1.0, atol=1e-6):
        raise DataError(f"{what}: expected source-class probabilities of shape (n, Z>=2), "
                        "non-negative with rows summing to 1 (predict_proba output)")


@TRANSFERABILITY.register("leep")
def leep(probabilities, labels) -> float:
    """LEEP from source-classifier probabilities over its own classes.

    Parameters
    ----------
    probabilities : array-like of shape (n, n_source_classes)
        ``theta(x)`` of the source classifier on the labelled target samples.
    labels : array-like of shape (n,)
        Target class labels.

    Returns
    -------
    float
        ``mean_i log sum_z P(y_i | z) theta(x_i)_z`` (at most 0).
    """
    P, y = check_features(probabilities, labels, "LEEP")
    _check_probabilities(P, "LEEP")
    codes, k = class_codes(y, "LEEP")
    joint = np.eye(k)[codes].T @ P / len(y)
    conditional = joint / np.clip(joint.sum(axis=0, keepdims=True), 1e-300, None)
    eep = np.sum(conditional[codes] * P, axis=1)
    return float(np.mean(np.log(eep)))


@TRANSFERABILITY.register("nce")
def nce(source_predictions, labels) -> float:
    """NCE: -H(Y | Z), target labels Y given source pseudo-labels Z.

    Parameters
    ----------
    source_predictions : array-like of shape (n,) or (n, n_source_classes)
        Source-model pseudo-labels, or its probabilities (their argmax is taken).
    labels : array-like of shape (n,)
        Target class labels.

    Returns
    -------
    float
        At most 0; 0 when the pseudo-label determines the target label.
    """
    S = np.asarray(source_predictions)
    z = S.argmax(axis=1) if S.ndim == 2 else S
    _, y = check_features(np.zeros((len(z), 1)), labels, "NCE")
    codes, k = class_codes(y, "NCE")
    _, zc = np.unique(z, return_inverse=True)
    joint = np.zeros((k, zc.max() + 1))
    np.add.at(joint, (codes, zc), 1.0 / len(y))
    p_z = joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log((joint / p_z)[nz])))


def _between_class_cov(F: np.ndarray, y: np.ndarray) -> np.ndarray:
    codes, k = class_codes(y, "H-score")
    onehot = np.eye(k)[codes]
    means = (onehot.T @ F) / onehot.sum(axis=0)[:, None]
    G = means[codes] - F.mean(axis=0)
    return G.T @ G / len(F)


@TRANSFERABILITY.register("hscore")
def h_score(features, labels) -> float:
    """H-score: tr(cov(f)^+ cov(E[f | y])), pseudo-inverse for singular covariances.

    Parameters
    ----------
    features : array-like of shape (n, d)
    labels : array-like of shape (n,)

    Returns
    -------
    float
    """
    F, y = check_features(features, labels, "H-score")
    Fc = F - F.mean(axis=0)
    cov = Fc.T @ Fc / len(F)
    return float(np.trace(np.linalg.pinv(cov, hermitian=True) @ _between_class_cov(F, y)))


@TRANSFERABILITY.register("hscore_shrinkage")
def regularized_h_score(features, labels) -> float:
    """Shrinkage H-score: tr(S_a^-1 (1 - a) cov(E[f | y])) with Ledoit-Wolf S_a and a.

    Parameters
    ----------
    features : array-like of shape (n, d)
    labels : array-like of shape (n,)

    Returns
    -------
    float
    """
    F, y = check_features(features, labels, "regularised H-score")
    lw = LedoitWolf().fit(F)
    between = (1.0 - lw.shrinkage_) * _between_class_cov(F, y)
    return float(np.trace(np.linalg.solve(lw.covariance_, between)))


def get_score(name: str) -> Score:
    """The registered transferability score ``name`` (ConfigError with suggestions)."""
    if not isinstance(name, str):
        raise ConfigError(f"score={name!r}; expected one of {', '.join(TRANSFERABILITY)}")
    return TRANSFERABILITY.get(name)
