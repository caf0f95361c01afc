"""Simulated trials with known heterogeneous effects, shifted between source and target.

Each patient has five covariates; the target population is shifted (older, heavier: the
first two covariates' means move by ``shift``), so the average effect differs between the
populations although the effect of each patient follows the same rule
tau(x) = 1 + 0.5 x0 (continuous outcome, "dose" units) or a risk difference from a
logistic model (binary outcome). Treatment is randomised (probability 0.5) in the target and
confounded by x1 in the source, as in observational source data. Because every patient's
true effect is known, per-patient errors and the coverage of intervals can be measured; a
real trial only ever shows one of the two outcomes. For the same reason the value of any
treatment policy (the mean outcome if patients were treated by it) is known:
:func:`population_value`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from medtransfer.data.domain import Domain

N_COVARIATES = 5
BETA = np.array([1.0, -0.5, 0.5, 0.0, 0.25])


@dataclass
class SimulatedTrial:
    """Source and target Domains, every target patient's true effect and true mean outcome
    under control (a risk for a binary outcome)."""

    source: Domain
    target: Domain
    true_effect: np.ndarray
    population_effect: float
    control_outcome: np.ndarray


def simulate_trial(
    n_source: int = 800,
    n_target: int = 600,
    *,
    shift: float = 1.0,
    outcome: str = "continuous",
    random_state: int = 0,
) -> SimulatedTrial:
    """Draw one source and one target population (column ``treated``: 1 or 0).

    ``population_effect`` is the target population's average effect (by a large draw),
    the quantity a mean-effect interval over target patients should cover.
    """
    rng = np.random.default_rng(random_state)
    source, _ = _population(rng, n_source, 0.0, outcome, confounded=True, name="source")
    target, true_effect = _population(rng, n_target, shift, outcome, confounded=False,
                                      name="target")
    population = _effects(_covariates(np.random.default_rng(10_000 + random_state), 200_000,
                                      shift), outcome).mean()
    X = target.inputs[[f"x{i}" for i in range(N_COVARIATES)]].to_numpy()
    control = mean_outcome(X, np.zeros(len(X)), outcome)
    return SimulatedTrial(source, target, true_effect, float(population), control)


def mean_outcome(X: np.ndarray, treated: np.ndarray, outcome: str = "continuous") -> np.ndarray:
    """The true mean outcome (a risk for a binary outcome) of patients with covariates ``X``
    under ``treated`` (1 or 0 per patient)."""
    if outcome == "continuous":
        return 5.0 + X @ BETA + treated * _effects(X, outcome)
    return expit(X @ BETA * 0.6 - 1.0 + treated * (0.8 + 0.4 * X[:, 0]))


def population_value(
    policy: Callable[[np.ndarray], np.ndarray], *, shift: float = 1.0,
    outcome: str = "continuous", n: int = 200_000, random_state: int = 0,
) -> float:
    """The target population's mean outcome when every patient is treated as ``policy``
    says (``policy(X)``: 1 treat, 0 not, per row of covariates), by a draw of ``n``."""
    X = _covariates(np.random.default_rng(20_000 + random_state), n, shift)
    return float(mean_outcome(X, np.asarray(policy(X), dtype=float), outcome).mean())


def _covariates(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    X = rng.normal(size=(n, N_COVARIATES))
    X[:, :2] += shift
    return X


def _effects(X: np.ndarray, outcome: str) -> np.ndarray:
    if outcome == "continuous":
        return 1.0 + 0.5 * X[:, 0]
    base = X @ BETA * 0.6 - 1.0
    return expit(base + 0.8 + 0.4 * X[:, 0]) - expit(base)


def _population(rng, n, shift, outcome, *, confounded, name) -> tuple[Domain, np.ndarray]:
    X = _covariates(rng, n, shift)
    p_treat = expit(0.8 * X[:, 1]) if confounded else np.full(n, 0.5)
    treated = (rng.random(n) < p_treat).astype(float)
    effect = _effects(X, outcome)
    mean = mean_outcome(X, treated, outcome)
    if outcome == "continuous":
        labels, class_names = mean + rng.normal(size=n), None
    else:
        labels, class_names = (rng.random(n) < mean).astype(int), ("no", "yes")
    inputs = pd.DataFrame(X, columns=[f"x{i}" for i in range(N_COVARIATES)])
    inputs["treated"] = treated
    ids = np.array([f"{name}-{i}" for i in range(n)])
    return Domain(name, "table", inputs, ids, labels=labels, class_names=class_names), effect
