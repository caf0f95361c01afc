"""Platt recalibration fitted across sites by Newton's method on released sums.

Platt scaling maps a model's logit ``s`` to ``P(y = 1) = expit(a * s + b)``. Its negative
log-likelihood is convex and Newton's method (IRLS) needs only its gradient (2 numbers) and
Hessian (2 x 2) at the current ``(a, b)``, both sums over rows. Each round every site
releases those sums over its own rows; the coordinator adds them and steps. The sums of the
sites are the sums of the pooled rows, so the fit converges to the pooled maximum-likelihood
``(a, b)``: what ``LogisticRegression(penalty=None)`` fits on the pooled logits.

Suppression: a site with fewer than ``min_cell`` cases of either class answers nothing (the
gradient at ``(0, 0)`` is ``n / 2 - n_positive``: it discloses the class counts). Newton
converges in a handful of rounds, so a site releases some 5 x 8 numbers in all; no noise is
added to them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from medtransfer.errors import DataError
from medtransfer.evaluate.calibration import Recalibrator


def platt_release(
    logit: np.ndarray, y: np.ndarray, params: list[float], *, site: str, min_cell: int = 10
) -> dict:
    """One Newton round at a site: gradient and Hessian of the Platt negative
    log-likelihood at ``params = (a, b)``, summed over the site's rows.

    Parameters
    ----------
    logit : ndarray (n,)
        The model's logit (log-odds of the positive class) per row.
    y : ndarray (n,)
        0/1 labels.
    params : [a, b]
        Where the derivatives are taken.
    site : str
        The site's name.
    min_cell : int, default=10
        A site with fewer cases of a class withholds its answer.

    Returns
    -------
    dict
        ``n``, ``gradient`` (2) and ``hessian`` (2 x 2), or ``suppressed``.
    """
    y = np.asarray(y, dtype=float)
    if min(y.sum(), len(y) - y.sum()) < min_cell:
        return {"site": site, "suppressed": f"a class has fewer than {min_cell} cases"}
    a, b = params
    s = np.asarray(logit, dtype=float)
    p = expit(a * s + b)
    F = np.column_stack([s, np.ones_like(s)])
    gradient = F.T @ (p - y)
    hessian = (F * (p * (1.0 - p))[:, None]).T @ F
    return {"site": site, "n": len(y), "gradient": gradient.tolist(),
            "hessian": hessian.tolist()}


def fit_platt(
    ask: Callable[[list[float]], list[dict]], *, max_rounds: int = 50, tol: float = 1e-10
) -> dict:
    """Newton's method over the sites' :func:`platt_release` replies.

    Parameters
    ----------
    ask : callable
        ``params -> replies``: one round, the sites' answers at ``params``.
    max_rounds : int, default=50
    tol : float, default=1e-10
        Stop when the Newton step is smaller than this (max norm).

    Returns
    -------
    dict
        ``a``, ``b``, ``rounds``, ``sites`` (those whose sums are in the fit) and
        ``left_out`` (those that withheld theirs).
    """
    theta = np.zeros(2)
    for rounds in range(1, max_rounds + 1):
        replies = ask(theta.tolist())
        answered = [r for r in replies if "suppressed" not in r]
        if not answered:
            raise DataError("every site withheld its Platt sums (a class under min_cell at "
                            "each); recalibration needs labelled cases of both classes")
        gradient = sum(np.asarray(r["gradient"]) for r in answered)
        hessian = sum(np.asarray(r["hessian"]) for r in answered)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            raise DataError("the Platt Hessian is singular: the score separates the classes "
                            "perfectly or is the same for every case; there is nothing to "
                            "recalibrate") from None
        theta = theta - step
        if np.abs(step).max() < tol:
            return {"a": float(theta[0]), "b": float(theta[1]), "rounds": rounds,
                    "sites": [r["site"] for r in answered],
                    "left_out": [r["site"] for r in replies if "suppressed" in r]}
    raise DataError(f"Platt recalibration did not converge in {max_rounds} Newton rounds (the "
                    "score separates the classes almost perfectly, so the fit runs off to "
                    "infinity); there is nothing to recalibrate")


def platt_recalibrator(a: float, b: float) -> Recalibrator:
    """A fitted binary ``Recalibrator(method="platt")`` mapping logit ``s`` to
    ``expit(a * s + b)`` (as if fitted on rows)."""
    model = LogisticRegression()
    model.coef_, model.intercept_ = np.array([[float(a)]]), np.array([float(b)])
    model.classes_, model.n_features_in_ = np.array([0, 1]), 1
    recalibrator = Recalibrator("platt")
    recalibrator.n_classes_, recalibrator.model_ = 2, model
    return recalibrator
