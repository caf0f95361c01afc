"""The IWPC warfarin loader: vendored file, parsing, filters and bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from medtransfer.datasets.warfarin import (
    CYP2C9,
    DOSE,
    FEATURES,
    LINKED_VKORC1,
    RECORDED_FLAGS,
    VKORC1,
    GenotypeFormatWarning,
    bundled_path,
    impute_vkorc1_from_linked_snps,
    parse_genotypes,
    parse_iwpc,
    warfarin,
)
from medtransfer.errors import DataError

LINKED = [column for column, _, _ in LINKED_VKORC1]
SHA256 = "1a20e70cc0fa00f59874fa23b1f2d1b76dcde03bf6fd9840b0c5347e085a3814"


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(bundled_path(), low_memory=False)


@pytest.fixture(scope="module")
def full():
    return warfarin()


def test_vendored_file_is_the_attributed_release():
    assert hashlib.sha256(bundled_path().read_bytes()).hexdigest() == SHA256
    attribution = (bundled_path().parent / "IWPC_ATTRIBUTION.md").read_text()
    assert "CC BY-SA 4.0" in attribution and "PS206767" in attribution


def test_domain_shape_labels_and_metadata(full, raw):
    assert len(full) == 6037 == raw[DOSE].notna().sum()
    assert full.kind == "table" and full.class_names is None and full.is_regression
    assert list(full.inputs.columns) == list(FEATURES)
    assert full.labels.dtype == float and np.all(full.labels > 0)
    assert list(full.metadata.columns) == ["patient_id", "site", "race"]
    assert len(set(full.ids)) == len(full) and full.ids[0].startswith("PA")
    first = raw[raw[DOSE].notna()].iloc[0]
    assert full.labels[0] == first[DOSE] and full.metadata["site"][0] == first["Project Site"]


def test_require_dose_false_keeps_unlabelled_patients_as_nan():
    everyone = warfarin(require_dose=False)
    assert len(everyone) == 6256
    assert np.isnan(everyone.labels).sum() == 6256 - 6037
    assert everyone.labelled_mask.sum() == 6037


@pytest.mark.slow
def test_site_and_race_filters(raw):
    dosed = raw[raw[DOSE].notna()]
    assert len(warfarin(site=3)) == (dosed["Project Site"] == 3).sum()
    east = warfarin(site=[3, 4, 8, 18])
    assert set(east.metadata["site"]) == {3, 4, 8, 18}
    assert len(east) == dosed["Project Site"].isin([3, 4, 8, 18]).sum()
    assert len(warfarin(race="asian")) == (dosed["Race (OMB)"] == "Asian").sum()
    black = warfarin(race=["Black", "WHITE"])
    assert set(black.metadata["race"]) == {"Black or African American", "White"}
    both = warfarin(site=1, race="white")
    assert both.name == "IWPC warfarin, site 1, race white"
    assert set(both.metadata["site"]) == {1} and set(both.metadata["race"]) == {"White"}


def test_parsed_features_follow_the_raw_columns(full, raw):
    dosed = raw[raw[DOSE].notna()].reset_index(drop=True)
    X = full.inputs
    seventies = dosed["Age"] == "70 - 79"
    assert (X.loc[seventies, "age_decades"] == 7).all()
    assert (X.loc[dosed["Age"] == "90+", "age_decades"] == 9).all()
    assert X["age_decades"].isna().sum() == dosed["Age"].isna().sum()
    assert (X.loc[dosed[VKORC1] == "A/A", "vkorc1"] == "A/A").all()
    assert (X.loc[dosed[VKORC1].isna() & dosed[LINKED].isna().all(axis=1), "vkorc1"]
            == "unknown").all()
    assert (X.loc[dosed[CYP2C9] == "*1/*5", "cyp2c9"] == "other").all()
    inducer = dosed[["Carbamazepine (Tegretol)", "Phenytoin (Dilantin)",
                     "Rifampin or Rifampicin"]].eq(1).any(axis=1)
    assert (X.loc[inducer, "enzyme_inducer"] == 1).all() and inducer.sum() > 0
    assert X["sex"].isin(["male", "female", "unknown"]).all()


@pytest.mark.slow
def test_missing_vkorc1_is_imputed_from_linked_snps_by_the_iwpc_rule(raw):
    sample = pd.DataFrame({
        VKORC1: [np.nan, np.nan, np.nan, np.nan, np.nan, "G/G", np.nan],
        LINKED[0]: ["T/T", "C/T", np.nan, np.nan, np.nan, "T/T", np.nan],
        LINKED[1]: [np.nan, "C/C", "C/C", "C/C", np.nan, np.nan, np.nan],
        LINKED[2]: [np.nan, np.nan, np.nan, "C/C", "C/C", np.nan, np.nan],
        "Race (OMB)": ["Asian", "White", "White", "Black or African American", "White",
                       "White", "Asian"],
    })
    genotyped, _ = parse_genotypes(sample[VKORC1], "vkorc1")
    imputed = impute_vkorc1_from_linked_snps(genotyped, sample)
    # rs9934438 for everyone first; rs2359612 and rs8050894 not for Black patients;
    # a genotyped -1639 state is never replaced
    assert list(imputed) == ["A/A", "A/G", "G/G", "unknown", "A/A", "G/G", "unknown"]
    dosed = raw[raw[DOSE].notna()].reset_index(drop=True)
    as_genotyped = warfarin(impute_vkorc1=False).inputs["vkorc1"]
    filled = warfarin().inputs["vkorc1"]
    assert (filled[as_genotyped != "unknown"] == as_genotyped[as_genotyped != "unknown"]).all()
    assert (as_genotyped == "unknown").sum() == dosed[VKORC1].isna().sum()
    assert (filled == "unknown").sum() < 0.1 * (as_genotyped == "unknown").sum()


def test_recorded_co_medications_and_comorbidities_become_flags(raw):
    sample = raw.head(5).drop(columns=["Diabetes"])
    for column in RECORDED_FLAGS["statin"]:
        sample[column] = np.nan
    sample["Simvastatin (Zocor)"] = ["YES", "NO", "0", np.nan, np.nan]
    sample["Atorvastatin (Lipitor)"] = [np.nan, np.nan, "1", np.nan, "no"]
    sample["Valve Replacement"] = [1.0, 0.0, np.nan, np.nan, 1.0]
    features, _ = parse_iwpc(sample)
    np.testing.assert_array_equal(features["statin"], [1, 0, 1, np.nan, 0])
    np.testing.assert_array_equal(features["valve_replacement"], [1, 0, np.nan, np.nan, 1])
    assert features["diabetes"].isna().all()  # column absent: unknown
    features, _ = parse_iwpc(raw)
    said_yes = raw[list(RECORDED_FLAGS["statin"])].astype(str).isin(["1", "1.0", "YES"])
    assert (features.loc[said_yes.any(axis=1), "statin"] == 1).all()
    assert said_yes.any(axis=1).sum() > 600
    assert features["heart_failure"].notna().sum() == raw[
        "Congestive Heart Failure and/or Cardiomyopathy"].notna().sum()


def test_target_inr_falls_back_to_the_midpoint_of_the_range(raw):
    sample = raw.head(3).copy()
    sample["Target INR"] = [np.nan, 3.0, np.nan]
    sample["Estimated Target INR Range Based on Indication"] = ["2-3", "2-3", "2 to 3.5"]
    features, _ = parse_iwpc(sample)
    np.testing.assert_allclose(features["target_inr"], [2.5, 3.0, 2.75])


def test_genotypes_are_normalised_and_unknown_formats_counted():
    states, bad = parse_genotypes(pd.Series(["*2/*1", "*1/*5", None, "1/3", "1/3"]), "cyp2c9")
    assert list(states) == ["*1/*2", "other", "unknown", "unknown", "unknown"]
    assert bad == {"1/3": 2}
    states, bad = parse_genotypes(pd.Series(["G/A", "a/a", "AG", "C/T", np.nan]), "vkorc1")
    assert list(states) == ["A/G", "A/A", "unknown", "unknown", "unknown"]
    assert bad == {"AG": 1, "C/T": 1}


def test_unknown_genotype_format_in_a_file_is_reported_and_counted(raw, tmp_path):
    sample = raw.head(40).copy()
    sample.loc[:4, CYP2C9] = "CYP2C9*1*3"
    sample.loc[5, VKORC1] = "rs9923231"
    path = tmp_path / "iwpc.csv"
    sample.to_csv(path, index=False)
    with pytest.warns(GenotypeFormatWarning) as record:
        domain = warfarin(path=path, require_dose=False)
    messages = sorted(str(w.message) for w in record)
    assert "5 CYP2C9 genotype(s) in an unknown format ('CYP2C9*1*3': 5)" in messages[1]
    assert "1 VKORC1 genotype(s) in an unknown format ('rs9923231': 1)" in messages[0]
    assert domain.inputs.attrs["unrecognised_genotypes"] == {
        "cyp2c9": {"CYP2C9*1*3": 5}, "vkorc1": {"rs9923231": 1}}
    assert (domain.inputs["cyp2c9"][:5] == "unknown").all()


@pytest.mark.slow
def test_unknown_site_and_race_name_the_valid_values():
    with pytest.raises(DataError, match=r"site\(s\) \[99\] not in column 'Project Site'.*1, 2"):
        warfarin(site=[3, 99])
    with pytest.raises(DataError, match=r"race 'martian' not in column 'Race \(OMB\)'.*Asian"):
        warfarin(race="martian")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=[VKORC1]), r"missing column\(s\) \['VKORC1     -1639"),
        (lambda f: f.drop(columns=[DOSE]), r"no column 'Therapeutic Dose of Warfarin'"),
        (lambda f: f.assign(**{DOSE: ["about 30", *f[DOSE][1:]]}),
         r"non-numeric value\(s\) \['about 30'\]"),
        (lambda f: f.assign(**{DOSE: [0.0, -5.0, *f[DOSE][2:]]}), r"2 dose\(s\) ≤ 0"),
    ],
)
def test_bad_files_are_rejected_with_the_column_named(raw, tmp_path, change, message):
    path = tmp_path / "bad.csv"
    change(raw.head(10).copy()).to_csv(path, index=False)
    with pytest.raises(DataError, match=message):
        warfarin(path=path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        warfarin(path=tmp_path / "nope.csv")
