"""Protected columns are never aligned; ComBat keeps a protected covariate's effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from medtransfer.adapt import get_method
from medtransfer.adapt.harmonize import ComBatHarmonized
from medtransfer.adapt.protect import check_protect, encoded_columns
from medtransfer.errors import ConfigError
from medtransfer.features.tabular import TabularEncoder
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.auto import AutoTransfer

SHIFT = np.array([4.0, -3.0, 2.0, 5.0])


def two_sites(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source and target where every column is shifted at the target, column 1 the most."""
    rng = np.random.default_rng(seed)
    source, target = rng.normal(size=(300, 4)), rng.normal(size=(200, 4)) * 1.5 + SHIFT
    X = np.vstack([source, target])
    y = np.r_[source @ [1.0, 2.0, 0.0, 0.5], np.full(len(target), np.nan)]
    return X, y, np.r_[np.ones(300), -np.ones(200)].astype(int)


@pytest.mark.parametrize("name", ["site_standardize", "combat"])
def test_a_protected_column_passes_unchanged_while_the_others_are_aligned(name):
    X, y, domain = two_sites()
    method = get_method(name, "regression").build(make_classifier("logreg", "regression"), 0)
    method.set_params(protect=[1]).fit(X, y, sample_domain=domain)
    out = method.transform_domains(X, domain)
    np.testing.assert_array_equal(out[:, 1], X[:, 1])
    source, target = out[domain > 0], out[domain < 0]
    for column in (0, 2, 3):  # aligned: at least 90% of the target's shift of 2 to 5 is gone
        assert abs(source[:, column].mean() - target[:, column].mean()) < 0.1 * SHIFT[column]
    assert abs(source[:, 1].mean() - target[:, 1].mean()) > 2.5  # kept


@pytest.mark.parametrize("name", ["coral", "subspace_alignment", "ot_linear"])
def test_an_aligned_method_standardises_a_protected_column_alike_for_every_domain(name):
    X, y, domain = two_sites()
    method = get_method(name, "regression").build(make_classifier("logreg", "regression"), 0)
    method.set_params(protect=[1]).fit(X, y, sample_domain=domain)
    out = method.transform_domains(X, domain)
    column = 1 if method.keeps_feature_space else out.shape[1] - 1
    expected = (X[:, 1] - X[:, 1].mean()) / X[:, 1].std()
    np.testing.assert_allclose(out[:, column], expected)


def test_combat_with_a_covariate_keeps_its_effect_and_removes_the_site_effect():
    """Half the target's rows have c = 1 against a tenth of the source's; c raises x by 3 and
    the target site by 1 (a second feature, z, has a site effect only). Plain ComBat takes
    the covariate's share of the differences for site effect and distorts c's effect; with c
    protected, x keeps c's effect and only the site's shift goes."""
    rng = np.random.default_rng(0)
    c = np.r_[rng.random(2000) < 0.1, rng.random(1000) < 0.5].astype(float)
    site = np.r_[np.zeros(2000), np.ones(1000)]
    x = 3.0 * c + 1.0 * site + rng.normal(size=3000)
    z = -2.0 * site + rng.normal(size=3000)
    X, domain = np.column_stack([x, z, c]), np.where(site > 0, -1, 1)
    y = np.where(domain > 0, x, np.nan)
    design = np.column_stack([np.ones(3000), c, site])
    fits = {}
    for protect in ([], [2]):
        model = ComBatHarmonized(LinearRegression(), protect=protect)
        harmonised = model.fit(X, y, sample_domain=domain).transform_domains(X, domain)
        fits[len(protect)] = np.linalg.lstsq(design, harmonised[:, 0], rcond=None)[0]
    _, effect, site_effect = fits[1]
    assert effect == pytest.approx(3.0, abs=0.15) and abs(site_effect) < 0.15
    _, plain_effect, _ = fits[0]
    # plain ComBat reads the target's extra c-driven spread as site scale: 3 -> 3.6
    assert abs(plain_effect - 3.0) > 0.3


def test_encoded_columns_follow_a_table_column_into_its_indicator_and_one_hot_columns():
    table = pd.DataFrame({"weight": [70.0, np.nan, 80.0, 60.0], "inr": [2.0, 2.5, 3.0, 2.0],
                          "gene": ["A/A", "A/G", "G/G", "A/G"]})
    encoder = TabularEncoder().fit(table)
    names = list(encoder.get_feature_names_out())
    chosen = [names[i] for i in encoded_columns(encoder, ["weight", "gene"])]
    assert chosen == ["weight", "missingindicator_weight", "gene_A/A", "gene_A/G", "gene_G/G"]
    with pytest.raises(ConfigError, match=r"column\(s\) \['wieght'\] not in the table"):
        encoded_columns(encoder, ["wieght"])


@pytest.mark.parametrize(("protect", "message"), [
    ([0, 1, 2], "protect covers all 3 features, so nothing is left to align"),
    ([3], r"position\(s\) \[3\] are not column indices of the 3 features"),
])
def test_impossible_protections_are_refused(protect, message):
    with pytest.raises(ConfigError, match=message):
        check_protect(protect, 3)


def test_auto_protects_the_columns_in_every_candidate_that_moves_features():
    auto = AutoTransfer(make_classifier("logreg", "regression"), protect=[1])
    built = auto._candidates("regression", 20, make_classifier("logreg", "regression"))
    movers = {n for n, m in built.items() if "protect" in m.get_params(deep=False)}
    assert {"combat", "coral", "site_standardize", "subspace_alignment"} <= movers
    assert all(built[n].protect == [1] for n in movers)
