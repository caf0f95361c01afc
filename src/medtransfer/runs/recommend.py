"""A recommended arm per patient, from the effect and its 95% interval: treat, not, or abstain.

The effect of a run is treated minus control in the outcome's units (a risk difference for a
binary outcome). Whether that helps depends on the outcome: a higher dose response may be the
goal, while for a binary outcome whose positive class is an adverse event (death, bleeding) a
lower risk is better. The run cannot know which, so the caller says it (``better``). An arm is
recommended only when the whole interval lies on its side of zero; otherwise the data do not
tell the arms apart for that patient and the recommendation abstains.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medtransfer.errors import ConfigError
from medtransfer.params import Options, check_value

BETTER = Options("higher", "lower")
INTERVAL_COLUMNS = ("effect", "effect_low", "effect_high")


def recommend(frame: pd.DataFrame, better: str) -> pd.DataFrame:
    """``frame`` with ``recommended`` and ``expected_benefit`` added.

    Parameters
    ----------
    frame : DataFrame
        Columns ``effect``, ``effect_low``, ``effect_high`` (treated minus control and its
        95% interval), as an effect run predicts them.
    better : {"higher", "lower"}
        Which way the outcome is better: "lower" for the risk of an adverse event.

    Returns
    -------
    DataFrame
        A copy with ``recommended`` ("treated", "control", or "abstain" when the interval
        includes zero) and ``expected_benefit``: how much better the outcome is expected
        under the recommended arm than under the other (positive, in the outcome's units;
        empty when abstaining).
    """
    check_value("recommend", "better", better, BETTER)
    missing = [c for c in INTERVAL_COLUMNS if c not in frame]
    if missing:
        raise ConfigError(f"a recommendation needs the effect's interval ({', '.join(missing)} "
                          "missing): predict with a run whose arms were refitted (n_refits >= 2)")
    sign = 1.0 if better == "higher" else -1.0
    benefit = sign * frame["effect"].to_numpy(dtype=float)  # of treating, in the helpful sense
    bounds = sign * frame[["effect_low", "effect_high"]].to_numpy(dtype=float)
    low, high = bounds.min(axis=1), bounds.max(axis=1)
    treat, control = low > 0, high < 0
    out = frame.copy()
    out["recommended"] = np.select([treat, control], ["treated", "control"], "abstain")
    out["expected_benefit"] = np.select([treat, control], [benefit, -benefit], np.nan)
    return out
