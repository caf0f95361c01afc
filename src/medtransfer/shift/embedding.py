"""A picture of the shift: both domains in one 2-D embedding (PCA or t-SNE)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from medtransfer.artifacts import atomic_file
from medtransfer.errors import ConfigError
from medtransfer.shift.two_sample import check_pair

MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*", "<", ">")
COLOURS = {"source": "tab:blue", "target": "tab:orange"}


def embed_domains(
    Xs, Xt, *, method: str = "pca", max_samples: int = 1000, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embed the standardised pooled features of both domains in two dimensions.

    Parameters
    ----------
    Xs, Xt : array-like of shape (n_source, d), (n_target, d)
        Source and target features.
    method : {"pca", "tsne"}, default "pca"
        PCA, or t-SNE (scikit-learn, perplexity at most 30) on the first 50 PCA components.
    max_samples : int, default 1000
        Each domain larger than this is randomly subsampled to it.
    random_state : int or None, default 0
        Seed of the subsampling and of t-SNE.

    Returns
    -------
    coords : ndarray of shape (n, 2)
    is_source : ndarray of bool, shape (n,)
    index : ndarray of int, shape (n,)
        Row of each point in its own domain's ``X``.
    """
    if method not in ("pca", "tsne"):
        raise ConfigError(f"embedding method={method!r}; expected 'pca' or 'tsne'")
    Xs, Xt = check_pair(Xs, Xt, what="embedding")
    rng = np.random.default_rng(random_state)
    keep = [np.sort(rng.choice(len(X), min(len(X), max_samples), replace=False))
            for X in (Xs, Xt)]
    Z = StandardScaler().fit_transform(np.vstack([Xs[keep[0]], Xt[keep[1]]]))
    Z = PCA(n_components=min(50 if method == "tsne" else 2, *Z.shape),
            random_state=random_state).fit_transform(Z)
    if method == "tsne":
        perplexity = float(min(30.0, (len(Z) - 1) / 3.0))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state)
        # OpenMP threads spin-wait in sklearn's Barnes-Hut t-SNE: on busy machines one thread
        # was 4-10x faster than two for 100-1000 points (measured).
        with threadpool_limits(limits=1, user_api="openmp"):
            Z = tsne.fit_transform(Z)
    if Z.shape[1] < 2:  # one feature: plot it against zero
        Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
    is_source = np.r_[np.ones(len(keep[0]), bool), np.zeros(len(keep[1]), bool)]
    return Z, is_source, np.r_[keep[0], keep[1]]


def plot_domains(
    coords: np.ndarray,
    is_source: np.ndarray,
    path: Path,
    *,
    classes: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    names: tuple[str, str] = ("source", "target"),
    title: str = "",
) -> Path:
    """Scatter plot PNG: colour by domain, marker by class (``-1`` = unlabelled, "x").

    Written atomically to ``path``; returns ``path``.
    """
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend stays as it was

    fig = Figure(figsize=(6, 5), dpi=110)
    ax = fig.subplots()
    classes = np.full(len(coords), -1) if classes is None else np.asarray(classes)
    for flag, domain, name in ((True, "source", names[0]), (False, "target", names[1])):
        for c in np.unique(classes):
            sel = (is_source == flag) & (classes == c)
            if not sel.any():
                continue
            label = name if c < 0 else f"{name} · {_class_name(c, class_names)}"
            ax.scatter(coords[sel, 0], coords[sel, 1], s=14, alpha=0.6, label=label,
                       c=COLOURS[domain], marker="x" if c < 0 else MARKERS[c % len(MARKERS)])
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="best", frameon=False)
    fig.tight_layout()
    with atomic_file(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def _class_name(code: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= code < len(class_names):
        return str(class_names[code])
    return f"class {code}"
