"""``--harmonize`` specs: a chain of registered harmonisers, ``auto``'s rule, saved state."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.harmonize.base import HARMONIZERS, Harmonizer, is_colour
from medtransfer.harmonize.framing import foreground_fraction
from medtransfer.params import ParameterError

NONE, AUTO = "none", "auto"
# the one parameter ``name=value`` sets, for the harmonisers that have one
_VALUE_PARAMETER = {"framing": "fraction"}
# objects whose median frame share differs by more than this factor get framing first
FRAMING_RATIO = 2.0


class HarmonizerChain:
    """Harmonisers applied one after the other (``framing+reinhard``).

    Parameters
    ----------
    steps : list of Harmonizer
        Unfitted (or, from :meth:`from_state`, fitted) harmonisers in order.
    """

    def __init__(self, steps: list[Harmonizer]) -> None:
        self.steps = steps

    @property
    def spec(self) -> str:
        """The ``--harmonize`` text of this chain."""
        return "+".join(step.name for step in self.steps)

    def fit(self, source: Sequence[np.ndarray], target: Sequence[np.ndarray]) -> HarmonizerChain:
        """Fit each step on the two domains as the previous steps leave them."""
        source, target = list(source), list(target)
        for step in self.steps:
            step.fit(source, target)
            source = [step.transform(image) for image in source]
            target = [step.transform(image) for image in target]
        return self

    def transform(self, image: np.ndarray) -> np.ndarray:
        """One image through every step (a new array; the input is not changed)."""
        for step in self.steps:
            image = step.transform(image)
        return image

    __call__ = transform

    def get_state(self) -> dict[str, Any]:
        """JSON-able state of every step, for the run's manifest."""
        return {"spec": self.spec, "steps": [step.get_state() for step in self.steps]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HarmonizerChain:
        """Rebuild a fitted chain from :meth:`get_state`'s output."""
        try:
            steps = [HARMONIZERS.get(s["name"]).from_state(s) for s in state["steps"]]
        except (KeyError, TypeError, ConfigError) as error:
            raise ArtifactError(
                f"the run's harmoniser state is malformed ({error}); re-fit the run"
            ) from None
        return cls(steps)

    def fingerprint(self) -> str:
        """sha256 of the fitted state: part of the feature cache key."""
        payload = json.dumps(self.get_state(), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def parse_harmonize(harmonize: str) -> HarmonizerChain | None:
    """The unfitted chain named by a ``--harmonize`` spec (None for ``none``).

    ``auto`` is resolved by :func:`choose_harmonizer` from the images, not here.
    """
    text = str(harmonize).strip().lower()
    if text == NONE:
        return None
    if text == AUTO:
        raise _refusal(harmonize, "is resolved from the images; call choose_harmonizer (or "
                       "fit_harmonizer, which does)")
    return HarmonizerChain([_step(part.strip(), harmonize) for part in text.split("+")])


def _refusal(harmonize: str, why: str) -> ParameterError:
    return ParameterError("parse_harmonize", "harmonize", harmonize, lambda style: why)


def _step(part: str, harmonize: str) -> Harmonizer:
    name, _, value = part.partition("=")
    cls = HARMONIZERS.get(name)
    if not value:
        return cls()
    parameter = _VALUE_PARAMETER.get(name)
    if parameter is None:
        raise _refusal(harmonize, f"harmoniser {name!r} takes no value; use {name!r} alone")
    try:
        return cls(**{parameter: float(value)})
    except ValueError:
        raise _refusal(harmonize, f"{value!r} in {part!r} is not a number; e.g. {name}=0.4"
                       ) from None


def choose_harmonizer(source: Sequence[np.ndarray], target: Sequence[np.ndarray]) -> str:
    """``--harmonize auto``: a fixed rule on image statistics (no label, no randomness).

    Colour images get ``reinhard``, grey ones ``zscore``; ``framing`` comes first when the
    two domains' objects fill frames differing by more than :data:`FRAMING_RATIO` in area.
    (Chosen on PneumoniaMNIST contrast-down-4 for grey: zscore 0.821 balanced accuracy at
    k = 0 vs percentile 0.808, none 0.797, histogram 0.778; and on WBC for colour.)
    """
    images = [*source, *target]
    colour = np.mean([is_colour(image) for image in images]) >= 0.5
    steps = ["reinhard" if colour else "zscore"]
    if _framing_differs(source, target):
        steps.insert(0, "framing")
    return "+".join(steps)


def _framing_differs(source: Sequence[np.ndarray], target: Sequence[np.ndarray]) -> bool:
    from medtransfer.harmonize.framing import FramingNormalization

    framing = FramingNormalization().fit(source, target)
    dark = bool(framing.dark_object_)
    shares = [np.median([foreground_fraction(i, dark) for i in images]) for images in
              (source, target)]
    low, high = sorted(shares)
    return bool(high > FRAMING_RATIO * max(low, 1e-6))
