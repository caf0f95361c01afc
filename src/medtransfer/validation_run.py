"""What an external-validation study reports about a run, beyond its metrics.

The leakage guard on the held-out target (and what ``dedupe`` does with its duplicates).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from medtransfer.data import Domain
from medtransfer.errors import ConfigError, DataError
from medtransfer.shift.leakage import DEDUPE_MODES, check_leakage

SOURCE_ROLE, LABELLED_ROLE, HELDOUT_ROLE = "source", "labelled target", "held-out target"


@dataclass(frozen=True)
class ValidationOptions:
    """How a run is validated on its held-out target.

    Parameters
    ----------
    dedupe : {"keep", "drop", "error"}, default "keep"
        What to do with held-out cases that duplicate others (see :func:`guard_heldout`).
    """

    dedupe: str = "keep"

    def check(self) -> None:
        """Refuse options that cannot be used, before any fitting."""
        if self.dedupe not in DEDUPE_MODES:
            raise ConfigError(
                f"--dedupe must be one of {', '.join(DEDUPE_MODES)}, got {self.dedupe!r}")


def guard_heldout(
    source: Domain, labelled: Domain, heldout: Domain, *, dedupe: str = "keep",
    features: dict[str, np.ndarray] | None = None,
) -> tuple[Domain, dict[str, Any]]:
    """Check the held-out target for copies of source or labelled target cases (and of
    each other), warn in one line when there are any, and apply ``dedupe``.

    Parameters
    ----------
    source, labelled, heldout : Domain
        The source, the labelled target samples used for fitting, and the held-out target.
    dedupe : {"keep", "drop", "error"}
        ``keep`` scores every held-out case (the duplicates are recorded), ``drop`` scores
        only those not flagged (the first of a group of held-out duplicates stays),
        ``error`` refuses a held-out set with any duplicate.
    features : dict, optional
        The model's features of each role (keys: the role names), for the feature check.

    Returns
    -------
    (Domain, dict)
        The held-out cases to score and the manifest record of the check.
    """
    ValidationOptions(dedupe=dedupe).check()
    roles = {SOURCE_ROLE: source, LABELLED_ROLE: labelled, HELDOUT_ROLE: heldout}
    found = check_leakage(roles, features)
    record = {**found.to_dict(), "dedupe": dedupe, "dropped": 0, "summary": found.summary()}
    n_flagged = int(found.flagged.size)
    if not n_flagged:
        return heldout, record
    message = (f"LEAKAGE: {n_flagged} of {len(heldout)} held-out target cases are duplicates "
               f"({'; '.join(found.summary())})")
    if dedupe == "error":
        raise DataError(f"{message}; their scores would be training scores: pass --dedupe "
                        "drop to score without them, or --dedupe keep to keep and report them")
    if dedupe == "drop":
        kept = np.setdiff1d(np.arange(len(heldout)), found.flagged)
        record["dropped"] = n_flagged
        warnings.warn(f"{message}; dropped from scoring (--dedupe drop)", stacklevel=2)
        return heldout.subset(kept), record
    warnings.warn(f"{message}; the held-out scores are optimistic: use --dedupe drop",
                  stacklevel=2)
    return heldout, record
