"""What a transfer method is, the registry of methods, and skada's domain convention.

Every method is a scikit-learn estimator fitted as ``fit(X, y, *, sample_domain)`` on one
stacked ``X``: ``sample_domain > 0`` marks source rows, ``< 0`` target rows, and unlabelled
target rows carry ``y = -1`` (classification) or ``NaN`` (regression).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sklearn.base import BaseEstimator

from medtransfer.errors import ConfigError
from medtransfer.registry import Registry


@dataclass(frozen=True)
class Method:
    """A registered transfer method.

    Attributes
    ----------
    name : str
        Registry name (``--method NAME``).
    description : str
        One line for ``medtransfer methods``.
    build : callable
        ``build(estimator, random_state) -> BaseEstimator`` wrapping the final predictor.
    needs_target_labels : bool
        True when the method cannot run with k = 0 labelled target samples.
    tasks : tuple of str
        Tasks supported: "classification" and/or "regression".
    """

    name: str
    description: str
    build: Callable[[BaseEstimator, int | None], BaseEstimator]
    needs_target_labels: bool = False
    tasks: tuple[str, ...] = ("classification", "regression")


METHODS: Registry[Method] = Registry("method", "medtransfer methods", providers=(
    "medtransfer.adapt.alignment",
    "medtransfer.adapt.baselines",
    "medtransfer.adapt.harmonize",
    "medtransfer.adapt.kernel_embedding",
    "medtransfer.adapt.label_shift",
    "medtransfer.adapt.mapping_network",
    "medtransfer.adapt.parameter_transfer",
    "medtransfer.adapt.pseudo_label",
    "medtransfer.adapt.regression_transfer",
    "medtransfer.adapt.reweight",
    "medtransfer.select.auto",  # auto chooses among the others
))


def register_method(
    name: str,
    description: str,
    *,
    needs_target_labels: bool = False,
    tasks: tuple[str, ...] = ("classification", "regression"),
) -> Callable[[Callable], Callable]:
    """Decorator registering a ``build(estimator, random_state)`` function as a method."""

    def decorator(build: Callable) -> Callable:
        METHODS.add(name, Method(name, description, build, needs_target_labels, tasks))
        return build

    return decorator


def get_method(name: str, task: str = "classification", n_labelled_target: int = 0) -> Method:
    """Look up a method and check that it can run for this task and number of labels."""
    method = METHODS.get(name)
    if task not in method.tasks:
        alternatives = ", ".join(n for n, m in METHODS.items() if task in m.tasks)
        raise ConfigError(
            f"method {name!r} does not support {task}; methods that do: {alternatives}"
        )
    if method.needs_target_labels and n_labelled_target == 0:
        raise ConfigError(
            f"method {name!r} needs labelled target samples; pass --target-labels K with K > 0 "
            "or choose a method that works without them (see `medtransfer methods`)"
        )
    return method
