"""Encode a clinical table into numbers, coping with features missing at whole sites.

Numeric columns are median-imputed with a missingness indicator, categorical columns are
one-hot encoded (unknown categories give all zeros). A column that is (almost) all missing
in one domain cannot transfer, so it is dropped by default and always reported. Its state
is plain data (medians, category lists) so it serialises to JSON, never to pickle.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from medtransfer.errors import ArtifactError, ConfigError, DataError
from medtransfer.params import Constraints, Interval, Options, check_params

FORMAT = "medtransfer.TabularEncoder"
VERSION = 1
_STATE = (
    "numeric_",
    "categorical_",
    "medians_",
    "indicators_",
    "categories_",
    "dropped_",
    "feature_names_in_",
    "report_",
)


def _domain_names(sample_domain: np.ndarray) -> np.ndarray:
    """'source'/'target' when there is one of each kind, else 'source 2', 'target -3'..."""
    ids = np.unique(sample_domain)
    names = {}
    for d in ids:
        side = "source" if d > 0 else "target"
        alone = np.sum(np.sign(ids) == np.sign(d)) == 1
        names[d] = side if alone else f"{side} {d}"
    return np.array([names[d] for d in sample_domain], dtype=object)


def _check_frame(X: Any) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise DataError(
            f"TabularEncoder expects a pandas DataFrame of feature columns, got "
            f"{type(X).__name__}; build one with pd.DataFrame(values, columns=names)"
        )
    return X


def _check_domains(X: pd.DataFrame, sample_domain: np.ndarray | None) -> np.ndarray:
    if sample_domain is None:
        return np.ones(len(X), dtype=int)
    domains = np.asarray(sample_domain)
    if (
        domains.shape != (len(X),)
        or not np.issubdtype(domains.dtype, np.integer)
        or (domains == 0).any()
    ):
        raise DataError(
            f"sample_domain has shape {domains.shape} and dtype {domains.dtype}; expected "
            f"{len(X)} non-zero integers, one per row (> 0 source, < 0 target)"
        )
    return domains


def _median(values: pd.Series) -> float:
    median = values.median()
    # A column missing everywhere still needs a fill value; 0 keeps the output finite.
    return 0.0 if pd.isna(median) else float(median)


def _category_strings(values: pd.Series) -> pd.Series:
    """Category labels as strings, 1.0 and 1 alike, missing kept as NaN."""

    def label(value: Any) -> str:
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            return str(int(value)) if float(value).is_integer() else str(value)
        return str(value)

    return values.map(label, na_action="ignore")


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Median-impute + indicate numeric columns, one-hot categorical ones, drop site-missing.

    Parameters
    ----------
    numeric, categorical : list of str or None
        Columns of each kind; None detects them (numeric dtypes vs. everything else).
    zero_as_missing : tuple of str
        Columns where 0 means "not measured" (``chol`` in the heart data).
    missing_threshold : float
        A column missing in at least this fraction of the rows of any one domain is
        "mostly missing".
    mostly_missing : {"drop", "keep"}
        Drop such columns, or keep them (imputed); either way they are in ``report_``.
    missing_indicators : bool
        Add a 0/1 column for each numeric column that had missing values at fit.

    Attributes
    ----------
    report_ : dict
        ``dropped`` {column: {domain: missing fraction}}, ``imputed`` {column: {"median",
        "missing": {domain: fraction}}}, ``zero_as_missing``, ``domains``, ``threshold``.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "mostly_missing": Options("drop", "keep"),
        "missing_threshold": Interval(float, 0, 1, closed="right", hint=(
            "e.g. 0.9 to drop columns missing in 90% of a domain's rows")),
    }

    def __init__(
        self,
        numeric: list[str] | None = None,
        categorical: list[str] | None = None,
        zero_as_missing: tuple[str, ...] = (),
        missing_threshold: float = 0.9,
        mostly_missing: str = "drop",
        missing_indicators: bool = True,
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.zero_as_missing = zero_as_missing
        self.missing_threshold = missing_threshold
        self.mostly_missing = mostly_missing
        self.missing_indicators = missing_indicators

    def fit(
        self, X: pd.DataFrame, y: Any = None, *, sample_domain: np.ndarray | None = None
    ) -> TabularEncoder:
        """Learn medians, categories and which columns to drop (never uses ``y``).

        ``sample_domain`` (> 0 source, < 0 target) splits the rows into domains for the
        per-domain missingness; None treats all rows as one source domain.
        """
        check_params(self)
        numeric, categorical = self._roles(_check_frame(X))
        X = self._prepare(X, numeric, categorical)
        domains = _domain_names(_check_domains(X, sample_domain))
        missing = X[numeric + categorical].isna().groupby(domains).mean()
        worst = missing.max(axis=0) if len(missing) else pd.Series(dtype=float)
        mostly = [c for c in numeric + categorical if worst.get(c, 0.0) >= self.missing_threshold]
        self.dropped_ = mostly if self.mostly_missing == "drop" else []
        self.numeric_ = [c for c in numeric if c not in self.dropped_]
        self.categorical_ = [c for c in categorical if c not in self.dropped_]
        self.medians_ = {c: _median(X[c]) for c in self.numeric_}
        self.indicators_ = [
            c for c in self.numeric_ if self.missing_indicators and X[c].isna().any()
        ]
        self.categories_ = {
            c: sorted(set(_category_strings(X[c]).dropna())) for c in self.categorical_
        }
        self.feature_names_in_ = np.array(numeric + categorical, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.report_ = self._report(missing, mostly)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode ``X``: numeric (imputed), indicators, one-hot; float64 array."""
        check_is_fitted(self, "medians_")
        X = self._prepare(_check_frame(X), self.numeric_, self.categorical_)
        blocks = [np.empty((len(X), 0))]
        if self.numeric_:
            numeric = X[self.numeric_]
            blocks.append(numeric.fillna(self.medians_).to_numpy(dtype=np.float64))
            blocks.append(numeric[self.indicators_].isna().to_numpy(dtype=np.float64))
        for column, categories in self.categories_.items():
            labels = _category_strings(X[column]).to_numpy(dtype=object)
            blocks.append((labels[:, None] == np.array(categories, dtype=object)).astype(float))
        return np.hstack(blocks)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns, in order."""
        check_is_fitted(self, "medians_")
        names = list(self.numeric_) + [f"missingindicator_{c}" for c in self.indicators_]
        for column, categories in self.categories_.items():
            names += [f"{column}_{value}" for value in categories]
        return np.array(names, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        """The fitted encoder as JSON-able plain data (parameters and learned state)."""
        check_is_fitted(self, "medians_")
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}
        state = {name: getattr(self, name) for name in _STATE}
        state["feature_names_in_"] = [str(c) for c in self.feature_names_in_]
        return {"format": FORMAT, "version": VERSION, "params": params, "state": state}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularEncoder:
        """Rebuild a fitted encoder from :meth:`to_dict` output."""
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or data.get("version") != VERSION
        ):
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ArtifactError(
                f"encoder state has format {found!r}; expected {FORMAT!r} version {VERSION} "
                "as written by TabularEncoder.to_dict(); re-fit and save the pipeline again"
            )
        state, params = data.get("state", {}), dict(data.get("params", {}))
        absent = [name for name in _STATE if name not in state]
        if absent or set(params) - set(cls._get_param_names()):
            raise ArtifactError(
                f"encoder state lacks {absent} or has unknown parameters "
                f"{sorted(set(params) - set(cls._get_param_names()))}; re-fit and save again"
            )
        params["zero_as_missing"] = tuple(params.get("zero_as_missing", ()))
        encoder = cls(**params)
        for name in _STATE:
            setattr(encoder, name, state[name])
        encoder.feature_names_in_ = np.array(state["feature_names_in_"], dtype=object)
        encoder.n_features_in_ = len(encoder.feature_names_in_)
        return encoder

    def _roles(self, X: pd.DataFrame) -> tuple[list[str], list[str]]:
        named = [*(self.numeric or []), *(self.categorical or []), *self.zero_as_missing]
        absent = [c for c in named if c not in X.columns]
        if absent:
            raise DataError(
                f"column(s) {absent} not found in the table; available: {list(X.columns)}. "
                "Fix the numeric / categorical / zero_as_missing column names"
            )
        both = sorted(set(self.numeric or []) & set(self.categorical or []))
        if both:
            raise ConfigError(f"column(s) {both} are listed as both numeric and categorical")
        declared = set(self.categorical or [])
        numeric = (
            list(self.numeric)
            if self.numeric is not None
            else [c for c in X.columns if c not in declared and pd.api.types.is_numeric_dtype(X[c])]
        )
        categorical = (
            list(self.categorical)
            if self.categorical is not None
            else [c for c in X.columns if c not in numeric]
        )
        return numeric, categorical

    def _prepare(self, X: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
        absent = [c for c in numeric + categorical if c not in X.columns]
        if absent:
            raise DataError(
                f"column(s) {absent} missing from the table; the encoder was fitted with "
                f"{numeric + categorical}. Provide these columns (values may be empty)"
            )
        X = X[numeric + categorical].copy()
        for column in self.zero_as_missing:
            if column in X.columns:
                X[column] = X[column].mask(X[column] == 0)
        for column in numeric:
            try:
                X[column] = pd.to_numeric(X[column]).astype(np.float64)
            except (ValueError, TypeError) as error:
                raise DataError(
                    f"column {column!r} should be numeric but {error}; clean the value or "
                    f"declare the column categorical"
                ) from None
        return X

    def _report(self, missing: pd.DataFrame, mostly: list[str]) -> dict[str, Any]:
        def fractions(column: str) -> dict[str, float]:
            return {str(d): round(float(missing.loc[d, column]), 4) for d in missing.index}

        gaps = {c for c in missing.columns if missing[c].max() > 0}
        return {
            "domains": [str(d) for d in missing.index],
            "threshold": float(self.missing_threshold),
            "mostly_missing": self.mostly_missing,
            "dropped": {c: fractions(c) for c in self.dropped_},
            "kept_mostly_missing": {c: fractions(c) for c in mostly if c not in self.dropped_},
            "imputed": {
                c: {"median": self.medians_[c], "missing": fractions(c)}
                for c in self.numeric_
                if c in gaps
            },
            "categorical_missing": {c: fractions(c) for c in self.categorical_ if c in gaps},
            "zero_as_missing": list(self.zero_as_missing),
        }
