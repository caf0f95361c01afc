"""Attribution: the column that separates the domains comes first."""

import numpy as np
import pandas as pd
import pytest

from medtransfer.shift.attribution import as_categories, attribute_shift


def metadata(n=120, seed=0):
    rng = np.random.default_rng(seed)
    def table(p_new_scanner, site):
        return pd.DataFrame({
            "patient_id": [f"{site}{i}" for i in range(n)],
            "site": site,
            "scanner": np.where(rng.uniform(size=n) < p_new_scanner, "new", "old"),
            "sex": rng.choice(["F", "M"], n),
            "age": rng.normal(60, 10, n),
        })
    return table(0.1, "A"), table(0.9, "B")


def test_the_planted_column_explains_the_shift_best():
    rows = attribute_shift({"metadata": metadata()}, random_state=0)
    by_name = {r["column"]: r for r in rows}
    assert "patient_id" not in by_name
    assert by_name["site"]["identifies_domain"] and by_name["site"]["auc"] == 1.0
    assert rows[1]["column"] == "scanner" and rows[1]["auc"] > 0.8  # population AUROC 0.9
    assert by_name["sex"]["auc"] < 0.65 and by_name["age"]["auc"] < 0.65
    assert by_name["scanner"]["mutual_information"] > 5 * by_name["sex"]["mutual_information"]


def test_numeric_columns_become_bands_and_missing_its_own_category():
    codes = as_categories(pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan]))
    assert len(set(codes[:10])) == 5 and codes[10] == codes.max() and codes[10] not in codes[:10]


def test_attribution_is_seeded_and_skips_empty_origins():
    a = attribute_shift({"metadata": metadata(), "feature": (pd.DataFrame(), pd.DataFrame())})
    b = attribute_shift({"metadata": metadata()})
    assert a == b
    assert all(r["auc"] == pytest.approx(s["auc"]) for r, s in zip(a, b, strict=True))
