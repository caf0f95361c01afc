"""The report's figures, rendered with matplotlib and embedded as base64 PNG."""

from __future__ import annotations

import base64
import io
import itertools

import numpy as np

# Figure without pyplot: no global backend state, works on servers without a display
from matplotlib.figure import Figure

from medtransfer.evaluate.calibration import expected_calibration_error, reliability_diagram
from medtransfer.evaluate.roc import roc_band

PALETTE = ("#1f5f8b", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#4f6d7a")
MAX_POINTS = 2000


def png_data_uri(fig: Figure) -> str:
    """``fig`` as a ``data:image/png;base64`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def style(ax) -> None:
    """Quiet axes: light grid, no top/right spines."""
    ax.grid(alpha=0.25, linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], seed: int) -> str:
    """ROC curves of several (label, score) pairs, each with its 95% bootstrap band."""
    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    for i, (name, (y, score)) in enumerate(curves.items()):
        band = roc_band(y, score, n_resamples=200, random_state=seed)
        color = PALETTE[i % len(PALETTE)]
        ax.fill_between(band["fpr"], band["low"], band["high"], color=color, alpha=0.15, lw=0)
        ax.step(band["fpr"], band["tpr"], where="post", color=color, lw=2 if i == 0 else 1.4,
                label=name)
    ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=1)
    ax.set(xlabel="1 - specificity (false-positive rate)", ylabel="Sensitivity",
           xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    style(ax)
    return png_data_uri(fig)


def reliability_figure(panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]) -> str:
    """Reliability diagrams: one panel per title, one line per (label, proba) pair."""
    fig = Figure(figsize=(4.6 * len(panels), 4.4))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels.items(), strict=True):
        ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=1)
        for i, (name, (y, proba)) in enumerate(lines.items()):
            d = reliability_diagram(y, proba, n_bins=10)
            filled = d["count"] > 0
            ece = expected_calibration_error(y, proba)
            ax.plot(d["predicted"][filled], d["observed"][filled], marker="o", ms=4,
                    color=PALETTE[i % len(PALETTE)], label=f"{name} (ECE {ece:.3f})")
        ax.set(title=title, xlabel="Predicted probability", ylabel="Observed frequency",
               xlim=(0, 1), ylim=(0, 1), aspect="equal")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        style(ax)
    return png_data_uri(fig)


def confusion_figure(matrix: np.ndarray, class_names: list[str]) -> str:
    """Confusion matrix: counts, coloured by the share of each true class."""
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 1.2 + 0.9 * len(class_names)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{count}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=9,
                color="white" if share[i, j] > 0.55 else "#222222")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=30, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="Predicted", ylabel="True")
    return png_data_uri(fig)


def thin(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """At most MAX_POINTS rows, drawn at random, so large domains stay readable and light."""
    return points[thin_index(len(points), rng)]


def thin_index(n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of at most MAX_POINTS of ``n`` rows, drawn at random (all when fewer)."""
    if n <= MAX_POINTS:
        return np.arange(n)
    return rng.choice(n, MAX_POINTS, replace=False)


def shorten(name: str, width: int = 36) -> str:
    """``name`` cut to ``width`` characters with an ellipsis, so legends stay in the panel."""
    return name if len(name) <= width else name[: width - 1] + "…"


def embedding_figure(
    embedding: dict[str, np.ndarray],
    names: tuple[str, str],
    seed: int,
    *,
    after_title: str = "After adaptation",
    source_weight: np.ndarray | None = None,
    shared_axes: bool = True,
) -> str:
    """Source and target in 2-D, before and after adaptation.

    ``source_weight`` (one per ``source_adapted`` point, mean about 1) sets the area of
    each source point in the after panel, for methods that reweight samples.
    ``shared_axes`` draws both panels on the same scales (for one common projection).
    """
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(9.6, 4.4))
    axes = fig.subplots(1, 2, sharex=shared_axes, sharey=shared_axes)
    for ax, title, suffix in zip(axes, ("Before adaptation", after_title),
                                 ("", "_adapted"), strict=True):
        for i, (key, label) in enumerate(zip(("source", "target"), names, strict=True)):
            points = embedding[key + suffix]
            shown = thin_index(len(points), rng)
            size = 8.0
            if suffix and key == "source" and source_weight is not None:
                size = 8.0 * np.maximum(source_weight[shown] / max(source_weight.mean(), 1e-12),
                                        0.05)
            ax.scatter(points[shown, 0], points[shown, 1], s=size, alpha=0.55,
                       color=PALETTE[i], label=f"{shorten(label)} ({key})", linewidths=0)
        ax.set(title=title, xticks=[], yticks=[])
        legend = ax.legend(loc="best", fontsize=8, frameon=False)
        for handle in legend.legend_handles:
            handle.set_sizes([24.0])  # one size in the key, whatever the points' weights
        style(ax)
    return png_data_uri(fig)


def scatter_figure(panels: dict[str, tuple[np.ndarray, np.ndarray]], seed: int,
                   band: float = 0.2) -> str:
    """Predicted against true value, one panel per (true, predicted) pair, on shared axes.

    Each panel draws the identity line and the band of predictions within ±``band`` of the
    true value (PW20's band for ``band=0.2``).
    """
    rng = np.random.default_rng(seed)
    values = np.concatenate([np.r_[y, p] for y, p in panels.values()])
    low, high = 0.0 if values.min() >= 0 else values.min(), values.max() * 1.05
    line = np.linspace(low, high, 50)
    fig = Figure(figsize=(4.6 * len(panels), 4.6))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for i, (ax, (title, (y, p))) in enumerate(zip(axes[0], panels.items(), strict=True)):
        pts = thin(np.c_[y, p], rng)
        ax.fill_between(line, line * (1 - band), line * (1 + band), color="#999999", alpha=0.15,
                        lw=0, label=f"within ±{band:.0%}")
        ax.plot(line, line, ls="--", color="#666666", lw=1, label="identity")
        ax.scatter(pts[:, 0], pts[:, 1], s=9, alpha=0.5, color=PALETTE[i % len(PALETTE)],
                   linewidths=0)
        ax.set(title=title, xlabel="True value", ylabel="Predicted value", xlim=(low, high),
               ylim=(low, high), aspect="equal")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        style(ax)
    return png_data_uri(fig)


def quantile_edges(y: np.ndarray, n_bins: int) -> np.ndarray:
    """Edges of at most ``n_bins`` bins holding about as many values each."""
    edges = np.unique(np.quantile(y, np.linspace(0, 1, n_bins + 1)))
    return edges if len(edges) > 1 else np.repeat(edges, 2)


def bin_of(y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value; values beyond the edges go to the end bins."""
    return np.clip(np.searchsorted(edges, y, side="right") - 1, 0, len(edges) - 2)


def error_figure(pairs: dict[str, tuple[np.ndarray, np.ndarray]], seed: int,
                 n_bins: int = 5) -> str:
    """Bland-Altman plot of the first (true, predicted) pair; mean absolute error by range
    of the true value (quantile bins of the first pair) for every pair."""
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(10, 4.4))
    left, right = fig.subplots(1, 2)
    first, (y, p) = next(iter(pairs.items()))
    mean, diff = (y + p) / 2, p - y
    pts = thin(np.c_[mean, diff], rng)
    left.scatter(pts[:, 0], pts[:, 1], s=9, alpha=0.5, color=PALETTE[0], linewidths=0)
    bias, spread = diff.mean(), 1.96 * diff.std(ddof=1) if len(diff) > 1 else 0.0
    left.axhline(bias, color="#333333", lw=1.2, label=f"mean difference {bias:.1f}")
    for limit in (bias - spread, bias + spread):
        left.axhline(limit, color="#333333", lw=1, ls="--")
    left.plot([], [], color="#333333", lw=1, ls="--", label="95% limits of agreement")
    left.set(title=f"{first}: agreement", xlabel="Mean of true and predicted",
             ylabel="Predicted - true")
    left.legend(loc="upper right", fontsize=8, frameon=False)
    style(left)
    edges = quantile_edges(y, n_bins)  # the first pair's bins, so the lines are comparable
    positions = np.arange(len(edges) - 1)
    for i, (name, (yi, pi)) in enumerate(pairs.items()):
        codes = bin_of(yi, edges)
        mae = [np.abs(pi - yi)[codes == b].mean() if np.any(codes == b) else np.nan
               for b in positions]
        right.plot(positions, mae, marker="o", ms=4, lw=2 if i == 0 else 1.4,
                   color=PALETTE[i % len(PALETTE)], label=name, zorder=3 if i == 0 else 2)
    right.set_xticks(positions, [f"{a:.3g} to {b:.3g}" for a, b in itertools.pairwise(edges)])
    right.set(title="Mean absolute error by range of the true value", xlabel="True value (bin)",
              ylabel="Mean absolute error", ylim=(0, None))
    right.legend(loc="best", fontsize=8, frameon=False)
    style(right)
    return png_data_uri(fig)
