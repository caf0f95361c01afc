"""``measure_shift``: is there a shift between two domains, of what kind, and how big?"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from medtransfer.artifacts import write_json
from medtransfer.data.domain import Domain
from medtransfer.errors import DataError
from medtransfer.shift.attribution import attribute_shift
from medtransfer.shift.conditional import per_class_shift
from medtransfer.shift.embedding import embed_domains, plot_domains
from medtransfer.shift.label_shift import label_shift_estimate
from medtransfer.shift.summary import summarise
from medtransfer.shift.tabular import feature_drift, missingness_shift
from medtransfer.shift.two_sample import check_pair, classifier_test, mmd_test


@dataclass
class ShiftReport:
    """Everything :func:`measure_shift` found; JSON via ``to_dict``, files via ``write``.

    Attributes hold plain JSON-able values (None where a part does not apply, or a dict
    with ``skipped`` saying why it could not be computed).
    """

    source: str
    target: str
    n_source: int
    n_target: int
    mmd: dict
    classifier: dict
    label_shift: dict | None
    missingness: list[dict] | None
    drift: list[dict] | None
    per_class: list[dict] | dict | None
    attribution: list[dict]
    class_names: tuple[str, ...] | None = None
    random_state: int | None = 0
    _arrays: dict = field(default_factory=dict, repr=False)

    def summary(self) -> list[str]:
        """Plain-language findings, most important first."""
        return summarise(self.to_dict(include_summary=False))

    def to_dict(self, include_summary: bool = True) -> dict:
        """The report as plain JSON-able data (with the ``summary`` lines)."""
        out = {k: getattr(self, k) for k in (
            "source", "target", "n_source", "n_target", "mmd", "classifier", "label_shift",
            "missingness", "drift", "per_class", "attribution")}
        out["class_names"] = list(self.class_names) if self.class_names else None
        if include_summary:
            out["summary"] = summarise(out)
        return out

    def write(self, out_dir: str | Path, *, tsne: bool = True) -> list[Path]:
        """Write ``shift.json`` and the embedding PNGs atomically into ``out_dir``.

        Parameters
        ----------
        out_dir : path
            Folder, created if needed; files in it with the same names are replaced.
        tsne : bool, default True
            Also draw the t-SNE embedding (slower than PCA: seconds for 1000 points).

        Returns
        -------
        list of Path
            The files written.
        """
        out = Path(out_dir)
        written = [out / "shift.json"]
        write_json(written[0], self.to_dict())
        for method in ("pca", "tsne") if tsne else ("pca",):
            written.append(self._figure(out / f"embedding_{method}.png", method))
        return written

    def _figure(self, path: Path, method: str) -> Path:
        a = self._arrays
        cap = 1000 if method == "pca" else 500
        coords, is_source, index = embed_domains(
            a["Xs"], a["Xt"], method=method, max_samples=cap, random_state=self.random_state
        )
        classes = np.empty(len(index), dtype=int)
        classes[is_source] = a["ys"][index[is_source]]
        classes[~is_source] = a["yt"][index[~is_source]]
        title = f"{self.source} vs {self.target} ({method.upper()})"
        return plot_domains(coords, is_source, path, classes=classes,
                            class_names=self.class_names, names=(self.source, self.target),
                            title=title)


def class_codes(domain: Domain) -> np.ndarray:
    """Class code per sample, ``-1`` where unknown (regression and unlabelled domains)."""
    if domain.labels is None or domain.class_names is None:
        return np.full(len(domain), -1)
    return np.asarray(domain.labels, dtype=int)


def _check_rows(domain: Domain, X: np.ndarray, which: str) -> None:
    if len(X) != len(domain):
        raise DataError(
            f"measure_shift: {which} domain {domain.name!r} has {len(domain)} samples but "
            f"{len(X)} feature rows; pass the features extracted from this very domain"
        )


def _label_shift(Xs, ys, Xt, yt, random_state) -> dict | None:
    labelled = ys >= 0
    if not labelled.any():
        return None
    try:
        return label_shift_estimate(Xs[labelled], ys[labelled], Xt, yt=yt,
                                    random_state=random_state)
    except DataError as err:
        return {"skipped": str(err)}


def _tables(source: Domain, target: Domain) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    s, t = source.inputs, target.inputs
    if isinstance(s, pd.DataFrame) and isinstance(t, pd.DataFrame):
        return s, t
    return None


def measure_shift(
    source: Domain,
    target: Domain,
    Xs,
    Xt,
    *,
    random_state: int | None = 0,
    n_permutations: int = 200,
) -> ShiftReport:
    """Test for shift between two domains and describe its kind.

    Parameters
    ----------
    source, target : Domain
        The domains; their labels (if any), metadata and, for tables, raw columns are used.
    Xs, Xt : array-like of shape (n_source, d), (n_target, d)
        Encoded features of the same samples (finite numbers, same columns).
    random_state : int or None, default 0
        Seed of every stochastic step.
    n_permutations : int, default 200
        Permutations of the MMD tests (the classifier test uses half as many).

    Returns
    -------
    ShiftReport
    """
    Xs, Xt = check_pair(Xs, Xt, what="measure_shift")
    _check_rows(source, Xs, "source")
    _check_rows(target, Xt, "target")
    ys, yt = class_codes(source), class_codes(target)
    tables = _tables(source, target)
    per_class = None
    if (ys >= 0).any() and (yt >= 0).any():
        per_class = per_class_shift(Xs, ys, Xt, yt, class_names=source.class_names,
                                    n_permutations=n_permutations, random_state=random_state)
    frames = {"metadata": (source.metadata, target.metadata)}
    if tables is not None:
        frames["feature"] = tables
    return ShiftReport(
        source=source.name, target=target.name, n_source=len(Xs), n_target=len(Xt),
        mmd=mmd_test(Xs, Xt, n_permutations=n_permutations, random_state=random_state),
        classifier=classifier_test(Xs, Xt, n_permutations=max(1, n_permutations // 2),
                                   random_state=random_state),
        label_shift=_label_shift(Xs, ys, Xt, yt, random_state),
        missingness=None if tables is None else missingness_shift(*tables),
        drift=None if tables is None else feature_drift(*tables),
        per_class=per_class,
        attribution=attribute_shift(frames, random_state=random_state),
        class_names=source.class_names, random_state=random_state,
        _arrays={"Xs": Xs, "Xt": Xt, "ys": ys, "yt": yt},
    )
