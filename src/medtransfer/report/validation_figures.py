"""Figures of the external-validation sections: smoothed calibration and decision curves."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from medtransfer.evaluate.calibration_study import smoothed_calibration
from medtransfer.evaluate.decision_curve import decision_curve
from medtransfer.report.figures import PALETTE, png_data_uri, shorten, style


def smoothed_calibration_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """Flexible calibration curves (observed against predicted risk), one line per model,
    with a rug of the first model's predictions."""
    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=1, label="ideal")
    for i, (name, (y, p)) in enumerate(curves.items()):
        curve = smoothed_calibration(y, p)
        ax.plot(curve["predicted"], curve["observed"], color=PALETTE[i % len(PALETTE)],
                lw=2 if i == 0 else 1.4, label=shorten(name))
    first = next(iter(curves.values()))[1]
    ax.plot(first, np.full(len(first), -0.02), "|", color="#5b6b7c", ms=6, alpha=0.4)
    ax.set(xlabel="Predicted risk", ylabel="Observed risk (smoothed)", xlim=(0, 1),
           ylim=(-0.04, 1.01), aspect="equal")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    style(ax)
    return png_data_uri(fig)


def decision_curve_figure(y: np.ndarray, scores: dict[str, np.ndarray]) -> str:
    """Net benefit against threshold probability: each model, treat all, treat none."""
    curve = decision_curve(y, scores)
    t = curve["thresholds"]
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    ax.plot(t, curve["treat_all"], color="#999999", lw=1.2, ls="--", label="treat all")
    ax.plot(t, curve["treat_none"], color="#1d2733", lw=1.0, label="treat none")
    for i, (name, nb) in enumerate(curve["models"].items()):
        ax.plot(t, nb, color=PALETTE[i % len(PALETTE)], lw=2 if i == 0 else 1.3,
                label=shorten(name))
    prevalence = float(np.mean(y == 1))
    top = max(prevalence, max(float(np.nanmax(v)) for v in curve["models"].values()))
    ax.set(xlabel="Threshold probability", ylabel="Net benefit", xlim=(0, 1),
           ylim=(-0.05 * max(top, 0.1), 1.1 * max(top, 0.01)))
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    style(ax)
    return png_data_uri(fig)
